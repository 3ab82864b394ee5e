// Admin routes. The token is compared as a SHA-256 digest in constant time; changes to
// apps complete once durable, so these routes answer asynchronously.
#include "api/admin_routes.h"

#include <boost/json.hpp>

#include "api/app_view.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "apps/app_store.h"
#include "core/clock.h"
#include "crypto/hash.h"
#include "crypto/secret.h"
#include "kms/key_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

// The app store says "not_found" for an unknown app.
Response fail(const Request& req, const Error& e) {
  return error_response(e.code == Errc::kNotFound ? Errc::kAppNotFound : e.code, req.request_id, e.message);
}

}  // namespace

bool admin_authorized(const Request& req, const std::string& digest) {
  std::string_view h = req.header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer || digest.empty()) return false;
  return crypto::ct_equal(crypto::sha256(h.substr(kBearer.size())), digest);
}

namespace {

std::vector<std::string> strings_of(const json::value* v, bool& ok) {
  std::vector<std::string> out;
  ok = true;
  if (!v) return out;
  if (v->is_string()) {  // "a,b" is accepted as well as ["a","b"]
    std::string_view s = v->get_string();
    std::size_t start = 0;
    while (start <= s.size()) {
      auto comma = s.find(',', start);
      auto item = s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return out;
  }
  if (!v->is_array()) {
    ok = false;
    return out;
  }
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) {
      ok = false;
      return {};
    }
    out.emplace_back(e.get_string());
  }
  return out;
}

Result<apps::AppOptions> create_options(const Request& req) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return make_error(Errc::kInvalidJson, "the body must be a JSON object");
  const auto& o = v.get_object();
  apps::AppOptions opts;
  auto str = [&](std::string_view k, std::string& out) -> Status {
    if (auto* f = o.if_contains(k)) {
      if (!f->is_string()) return make_error(Errc::kInvalidArgument, std::string(k) + " must be a string");
      out = std::string(f->get_string());
    }
    return ok_status();
  };
  if (auto st = str("name", opts.name); !st) return st.error();
  if (opts.name.empty()) return make_error(Errc::kInvalidArgument, "name is required");
  if (auto st = str("jwt_audience", opts.jwt_audience); !st) return st.error();
  if (auto st = str("jwt_issuer", opts.jwt_issuer); !st) return st.error();
  if (auto* f = o.if_contains("require_exp")) {
    if (!f->is_bool()) return make_error(Errc::kInvalidArgument, "require_exp must be true or false");
    opts.require_exp = f->get_bool();
  }
  if (auto* f = o.if_contains("client_secret")) {
    if (!f->is_bool()) return make_error(Errc::kInvalidArgument, "client_secret must be true or false");
    opts.hs256_client_secret = f->get_bool();
  }
  if (auto* f = o.if_contains("rate_limit")) {
    if (!f->is_int64() || f->get_int64() < 0 || f->get_int64() > 10'000'000)
      return make_error(Errc::kInvalidArgument, "rate_limit must be 0 to 10000000 requests per second");
    opts.rate_limit = static_cast<std::uint32_t>(f->get_int64());
  }
  bool ok = true;
  if (o.contains("scopes")) {
    auto scopes = strings_of(o.if_contains("scopes"), ok);
    if (!ok) return make_error(Errc::kInvalidArgument, "scopes must be an array of strings");
    std::string joined;
    for (const auto& s : scopes) joined += s + ",";
    auto bits = apps::parse_scopes(joined);
    if (!bits) return bits.error();
    opts.scopes = *bits;
  }
  if (o.contains("namespaces")) {
    opts.namespaces = strings_of(o.if_contains("namespaces"), ok);
    if (!ok) return make_error(Errc::kInvalidArgument, "namespaces must be an array of strings");
  }
  opts.allowed_cidrs = strings_of(o.if_contains("allowed_cidrs"), ok);
  if (!ok) return make_error(Errc::kInvalidArgument, "allowed_cidrs must be an array of strings");
  if (auto* f = o.if_contains("client_public_keys")) {
    if (!f->is_array()) return make_error(Errc::kInvalidArgument, "client_public_keys must be an array of PEM strings");
    for (const auto& k : f->get_array()) {
      if (!k.is_string())
        return make_error(Errc::kInvalidArgument, "client_public_keys must be an array of PEM strings");
      opts.client_public_keys_pem.emplace_back(k.get_string());
    }
  }
  return opts;
}

}  // namespace

namespace {

using Deps = std::shared_ptr<AdminRoutesDeps>;
using AdminHandler = void (*)(const Deps& d, Request&& req, Reply reply);

// Checks the admin token, then runs `fn` with a reply that records the actor "admin".
AsyncHandler guarded(const Deps& d, AdminHandler fn) {
  return [d, fn](Request&& req, Reply reply) {
    if (!admin_authorized(req, d->admin_token_sha256))
      return reply(error_response(Errc::kAdminUnauthorized, req.request_id));
    Reply tagged = [reply = std::move(reply)](Response r) {
      r.actor = "admin";
      reply(std::move(r));
    };
    fn(d, std::move(req), std::move(tagged));
  };
}

// Finishes a request with `{}` or the store's error.
std::function<void(Result<Ok>)> answer_empty(const Request& req, Reply reply) {
  return [rid = req, reply](Result<Ok> r) { reply(r ? ok_json(200, json::object{}) : fail(rid, r.error())); };
}

// Suspending or deleting closes the app's live client connections too.
std::function<void(Result<Ok>)> then_disable(const Deps& d, const Request& req, Reply reply, std::string app_id) {
  return [d, req, reply, app_id](Result<Ok> r) {
    if (r && d->app_disabled) d->app_disabled(app_id);
    reply(r ? ok_json(200, json::object{}) : fail(req, r.error()));
  };
}

json::object status_json(const kms::KmsStatus& s) {
  return json::object{{"initialized", s.initialized},
                      {"sealed", s.sealed},
                      {"threshold", s.threshold},
                      {"shares", s.shares},
                      {"progress", s.progress}};
}

// Operator: status and unseal need no token (the shares are the authority, as in
// Vault); sealing does, and so does resetting the unseal progress unless the caller
// shows a share. All three are served while sealed, and budgeted per source
// (limits.operator_*) before they run.
Response operator_status(const Deps& d) {
  Response r = ok_json(200, status_json(d->kms->status()));
  r.actor = "operator";
  return r;
}

// {"reset": true} with the admin token, or with {"share": ...} of this installation.
Response unseal_reset(const Deps& d, const Request& req, const json::value* share) {
  if (admin_authorized(req, d->admin_token_sha256)) {
    d->kms->reset_unseal();
    return ok_json(200, status_json(d->kms->status()));
  }
  if (!share || !share->is_string())
    return error_response(Errc::kAdminUnauthorized, req.request_id,
                          "reset needs the admin token or one of this installation's shares");
  auto parsed = kms::parse_share(std::string_view(share->get_string()));
  if (!parsed) return fail(req, parsed.error());
  if (auto st = d->kms->reset_unseal(*parsed); !st) return fail(req, st.error());
  return ok_json(200, status_json(d->kms->status()));
}

Response unseal_step(const Deps& d, const Request& req) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return fail(req, Error{Errc::kInvalidJson, "the body must be {\"share\": \"...\"}"});
  const auto& o = v.get_object();
  auto* share = o.if_contains("share");
  if (auto* r = o.if_contains("reset"); r && r->is_bool() && r->get_bool()) return unseal_reset(d, req, share);
  if (!share || !share->is_string())
    return fail(req, Error{Errc::kInvalidArgument, "the body must be {\"share\": \"...\"} or {\"reset\": true}"});
  auto parsed = kms::parse_share(std::string_view(share->get_string()));
  if (!parsed) return fail(req, parsed.error());
  auto st = d->kms->unseal(*parsed);
  if (!st) return fail(req, st.error());
  return ok_json(200, status_json(*st));
}

Response operator_unseal(const Deps& d, const Request& req) {
  Response r = unseal_step(d, req);
  r.actor = "operator";
  return r;
}

void operator_seal(const Deps& d, Request&&, Reply reply) {
  d->kms->seal();
  reply(ok_json(200, status_json(d->kms->status())));
}

void create_app(const Deps& d, Request&& req, Reply reply) {
  auto opts = create_options(req);
  if (!opts) return reply(fail(req, opts.error()));
  d->apps->create(std::move(*opts), [req, reply](Result<apps::CreatedApp> r) {
    if (!r) return reply(fail(req, r.error()));
    json::object o = app_view(*r->app);
    o["app_secret_id"] = r->app_secret_id;
    o["app_secret"] = r->app_secret.view();
    if (!r->client_secret.empty()) o["client_secret"] = r->client_secret.view();
    reply(secret_json(201, std::move(o)));
  });
}

void list_apps(const Deps& d, Request&&, Reply reply) {
  json::array arr;
  for (const auto& a : d->apps->list()) arr.push_back(app_view(*a));
  // Apps whose stored record failed its integrity check or did not load (docs/kms.md).
  json::array unavailable;
  for (const auto& u : d->apps->unavailable())
    unavailable.push_back(json::object{{"id", u.id}, {"name", u.name}, {"reason", u.reason}});
  reply(ok_json(200, json::object{{"apps", std::move(arr)}, {"unavailable", std::move(unavailable)}}));
}

void get_app(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  reply(ok_json(200, app_view(*a)));
}

void rotate_secret(const Deps& d, Request&& req, Reply reply) {
  d->apps->rotate_secret(std::string(req.param("app")), [req, reply](Result<apps::NewSecret> r) {
    if (!r) return reply(fail(req, r.error()));
    reply(secret_json(200, json::object{{"secret_id", r->id}, {"app_secret", r->secret.view()}}));
  });
}

void revoke_secret(const Deps& d, Request&& req, Reply reply) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object() || !v.get_object().contains("secret_id") || !v.get_object().at("secret_id").is_string())
    return reply(fail(req, Error{Errc::kInvalidArgument, "the body must be {\"secret_id\": \"...\"}"}));
  std::string id(v.get_object().at("secret_id").get_string());
  d->apps->revoke_secret(std::string(req.param("app")), id, answer_empty(req, reply));
}

void suspend_app(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  d->apps->set_status(a->id, apps::AppStatus::Suspended, then_disable(d, req, reply, a->id));
}

void resume_app(const Deps& d, Request&& req, Reply reply) {
  d->apps->set_status(std::string(req.param("app")), apps::AppStatus::Active, answer_empty(req, reply));
}

void delete_app(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  d->apps->remove(a->id, then_disable(d, req, reply, a->id));
}

// Client keys and JWT policy (S12): without these, a leaked client secret could only be
// dealt with by deleting the app, and with it every key and record bound to its id.

// Finishes with `{}`, after closing the app's connections: their tokens may be the ones
// just made invalid.
std::function<void(Result<Ok>)> then_revoke_tokens(const Deps& d, const Request& req, Reply reply, std::string app_id) {
  return [d, req, reply, app_id](Result<Ok> r) {
    if (r && d->client_tokens_revoked) d->client_tokens_revoked(app_id);
    reply(r ? ok_json(200, json::object{}) : fail(req, r.error()));
  };
}

void rotate_client_secret(const Deps& d, Request&& req, Reply reply) {
  d->apps->rotate_client_secret(std::string(req.param("app")), [req, reply](Result<apps::NewSecret> r) {
    if (!r) return reply(fail(req, r.error()));
    reply(secret_json(201, json::object{{"secret_id", r->id}, {"client_secret", r->secret.view()}}));
  });
}

void revoke_client_secret(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  d->apps->revoke_client_secret(a->id, std::string(req.param("id")), then_revoke_tokens(d, req, reply, a->id));
}

void add_client_key(const Deps& d, Request&& req, Reply reply) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object() || !v.get_object().contains("pem") || !v.get_object().at("pem").is_string())
    return reply(
        fail(req, Error{Errc::kInvalidArgument, "the body must be {\"pem\": \"-----BEGIN PUBLIC KEY-----...\"}"}));
  std::string pem(v.get_object().at("pem").get_string());
  d->apps->add_client_key(std::string(req.param("app")), pem, [req, reply](Result<std::string> r) {
    if (!r) return reply(fail(req, r.error()));
    reply(ok_json(201, json::object{{"kid", *r}}));
  });
}

void remove_client_key(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  d->apps->remove_client_key(a->id, std::string(req.param("kid")), then_revoke_tokens(d, req, reply, a->id));
}

Result<apps::JwtPolicyChange> policy_change(const Request& req, std::int64_t now_s) {
  json::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) return make_error(Errc::kInvalidJson, "the body must be a JSON object");
  const auto& o = v.get_object();
  apps::JwtPolicyChange c;
  for (const auto& kv : o) {
    std::string_view k(kv.key().data(), kv.key().size());
    const json::value& f = kv.value();
    if ((k == "audience" || k == "issuer") && f.is_string()) {
      (k == "audience" ? c.audience : c.issuer) = std::string(f.get_string());
    } else if (k == "require_exp" && f.is_bool()) {
      c.require_exp = f.get_bool();
    } else if (k == "max_token_lifetime" && f.is_int64() && f.get_int64() >= 0) {
      c.max_token_lifetime_s = f.get_int64();
    } else if (k == "tokens_issued_after" && f.is_string() && f.get_string() == "now") {
      c.tokens_issued_after = now_s;
    } else if (k == "tokens_issued_after" && f.is_int64() && f.get_int64() >= 0) {
      c.tokens_issued_after = f.get_int64();
    } else {
      return make_error(Errc::kInvalidArgument,
                        "unknown or mistyped field '" + std::string(k) +
                            "' (audience, issuer: string; require_exp: bool; max_token_lifetime: seconds; "
                            "tokens_issued_after: Unix seconds or \"now\")");
    }
  }
  return c;
}

void set_jwt_policy(const Deps& d, Request&& req, Reply reply) {
  auto a = d->apps->find(req.param("app"));
  if (!a) return reply(error_response(Errc::kAppNotFound, req.request_id));
  auto change = policy_change(req, clock::unix_ms() / 1000);
  if (!change) return reply(fail(req, change.error()));
  const bool cut_off = change->tokens_issued_after.has_value() && *change->tokens_issued_after > 0;
  d->apps->set_jwt_policy(a->id, std::move(*change), [d, req, reply, id = a->id, cut_off](Result<Ok> r) {
    if (!r) return reply(fail(req, r.error()));
    if (cut_off && d->client_tokens_revoked) d->client_tokens_revoked(id);
    auto app = d->apps->find_by_id(id);
    reply(app ? ok_json(200, app_view(*app)) : error_response(Errc::kAppNotFound, req.request_id));
  });
}

}  // namespace

void add_admin_routes(Router& router, AdminRoutesDeps deps) {
  auto d = std::make_shared<AdminRoutesDeps>(std::move(deps));
  constexpr bool kOpenWhenSealed = true;
  router.add(
      "GET", "/admin/v1/operator/status", [d](const Request&) { return operator_status(d); }, kOpenWhenSealed);
  router.add(
      "POST", "/admin/v1/operator/unseal", [d](const Request& req) { return operator_unseal(d, req); },
      kOpenWhenSealed);
  router.add_async("POST", "/admin/v1/operator/seal", guarded(d, operator_seal), kOpenWhenSealed);

  router.add_async("POST", "/admin/v1/apps", guarded(d, create_app));
  router.add_async("GET", "/admin/v1/apps", guarded(d, list_apps));
  router.add_async("GET", "/admin/v1/apps/{app}", guarded(d, get_app));
  router.add_async("POST", "/admin/v1/apps/{app}/rotate-secret", guarded(d, rotate_secret));
  router.add_async("POST", "/admin/v1/apps/{app}/revoke-secret", guarded(d, revoke_secret));
  router.add_async("POST", "/admin/v1/apps/{app}/client-secrets", guarded(d, rotate_client_secret));
  router.add_async("DELETE", "/admin/v1/apps/{app}/client-secrets/{id}", guarded(d, revoke_client_secret));
  router.add_async("POST", "/admin/v1/apps/{app}/client-keys", guarded(d, add_client_key));
  router.add_async("DELETE", "/admin/v1/apps/{app}/client-keys/{kid}", guarded(d, remove_client_key));
  router.add_async("POST", "/admin/v1/apps/{app}/jwt-policy", guarded(d, set_jwt_policy));
  router.add_async("POST", "/admin/v1/apps/{app}/suspend", guarded(d, suspend_app));
  router.add_async("POST", "/admin/v1/apps/{app}/resume", guarded(d, resume_app));
  router.add_async("DELETE", "/admin/v1/apps/{app}", guarded(d, delete_app));
}

AsyncHandler admin_app_async(const apps::AppStore* apps, const std::string& admin_token_sha256, AdminAppHandler fn) {
  return [apps, digest = admin_token_sha256, fn = std::move(fn)](Request&& req, Reply reply) {
    if (!admin_authorized(req, digest)) return reply(error_response(Errc::kAdminUnauthorized, req.request_id));
    auto app = apps->find(req.param("app"));
    if (!app) return reply(error_response(Errc::kAppNotFound, req.request_id));
    Reply tagged = [reply = std::move(reply)](Response r) {
      r.actor = "admin";
      reply(std::move(r));
    };
    fn(std::move(req), app->id, std::move(tagged));
  };
}

}  // namespace herald::api

// The key service API (docs/kms.md): signed, scope `kms`, each app working only with
// its own keys. Plaintexts and contexts travel base64-encoded. The flags that guard keys
// against a stolen AppSecret (exportable, deletion_allowed) and cancelling a deletion
// are admin routes.
#include "api/kms_routes.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "api/admin_routes.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "crypto/encoding.h"
#include "kms/key_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxBatch = 1000;

json::object key_view(const kms::KeyInfo& k) {
  json::array versions;
  for (const auto& v : k.versions)
    versions.push_back(json::object{{"version", v.version}, {"created_ms", v.created_ms}});
  json::object o{{"name", k.name},
                 {"type", k.kind},
                 {"latest_version", k.latest_version},
                 {"min_decryption_version", k.min_decryption_version},
                 {"exportable", k.exportable},
                 {"deletion_allowed", k.deletion_allowed},
                 {"created_ms", k.created_ms},
                 {"versions", std::move(versions)}};
  if (k.delete_after_ms != 0) o["delete_after_ms"] = k.delete_after_ms;
  return o;
}

// A base64 field (absent: empty, when optional).
Result<std::string> b64_field(const json::object& o, std::string_view name, bool required) {
  auto* v = o.if_contains(name);
  if (!v) {
    if (required) return make_error(Errc::kInvalidArgument, std::string(name) + " is required (base64)");
    return std::string();
  }
  if (!v->is_string()) return make_error(Errc::kInvalidArgument, std::string(name) + " must be a base64 string");
  auto d = crypto::base64_decode(std::string_view(v->get_string()));
  if (!d) return make_error(Errc::kInvalidArgument, std::string(name) + " is not valid base64");
  return std::move(*d);
}

Result<std::string> str_field(const json::object& o, std::string_view name) {
  auto* v = o.if_contains(name);
  if (!v || !v->is_string()) return make_error(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(v->get_string());
}

json::object error_item(const Error& e) {
  return json::object{{"error", json::object{{"code", e.code_name()}, {"message", e.message}}}};
}

// One item of encrypt/decrypt/rewrap: {plaintext|ciphertext, context?} -> result object.
using ItemFn = std::function<Result<json::object>(const json::object& item)>;

// Runs `fn` on the body itself, or on each of its `items` (a batch).
Response single_or_batch(const Request& req, const json::object& body, const ItemFn& fn) {
  if (auto* items = body.if_contains("items")) {
    if (!items->is_array() || items->get_array().empty() || items->get_array().size() > kMaxBatch)
      return error_from(req, Error{Errc::kInvalidArgument, "items must be an array of 1 to 1000 objects"});
    json::array results;
    for (const auto& it : items->get_array()) {
      if (!it.is_object()) {
        results.push_back(error_item(Error{Errc::kInvalidArgument, "an item must be an object"}));
        continue;
      }
      auto r = fn(it.get_object());
      results.push_back(r ? json::value(std::move(*r)) : json::value(error_item(r.error())));
    }
    return secret_json(200, json::object{{"results", std::move(results)}});
  }
  auto r = fn(body);
  if (!r) return error_from(req, r.error());
  return secret_json(200, std::move(*r));
}

// A route's work once the app is authenticated (scope kms).
using KmsHandler = void (*)(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply);

AsyncHandler signed_route(const std::shared_ptr<KmsRoutesDeps>& d, KmsHandler fn) {
  return signed_async(d->auth, apps::kScopeKms,
                      [d, fn](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                        fn(*d, std::move(req), app->id, std::move(reply));
                      });
}

// Answers with the key's view, or the key service's error.
std::function<void(Result<kms::KeyInfo>)> key_reply(const Request& req, Reply reply, int status) {
  return [req, reply, status](Result<kms::KeyInfo> r) {
    reply(r ? ok_json(status, key_view(*r)) : error_from(req, r.error()));
  };
}

void create_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto body = body_object(req);
  if (!body) return reply(error_from(req, body.error()));
  auto name = str_field(*body, "name");
  if (!name) return reply(error_from(req, name.error()));
  kms::KeyOptions opts;
  if (auto* e = body->if_contains("exportable")) {
    if (!e->is_bool()) return reply(error_from(req, Error{Errc::kInvalidArgument, "exportable must be true or false"}));
    opts.exportable = e->get_bool();
  }
  d.kms->create_key(app, *name, opts, key_reply(req, reply, 201));
}

void list_keys(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  if (d.kms->sealed()) return reply(error_response(Errc::kSealed, req.request_id));
  json::array keys;
  for (const auto& k : d.kms->list_keys(app)) keys.push_back(key_view(k));
  reply(ok_json(200, json::object{{"keys", std::move(keys)}}));
}

void get_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto k = d.kms->key_info(app, std::string(req.param("name")));
  reply(k ? ok_json(200, key_view(*k)) : error_from(req, k.error()));
}

void rotate_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  d.kms->rotate_key(app, std::string(req.param("name")), key_reply(req, reply, 200));
}

// The body of a config request; the service decides who may set which field.
Result<kms::KeyConfig> key_config(const Request& req) {
  auto body = body_object(req);
  if (!body) return body.error();
  kms::KeyConfig cfg;
  if (auto* v = body->if_contains("min_decryption_version")) {
    if (!v->is_int64() || v->get_int64() < 1 || v->get_int64() > 0xFFFFFFFF)
      return make_error(Errc::kInvalidArgument, "min_decryption_version must be >= 1");
    cfg.min_decryption_version = static_cast<std::uint32_t>(v->get_int64());
  }
  for (auto [field, slot] :
       {std::pair{"deletion_allowed", &cfg.deletion_allowed}, std::pair{"exportable", &cfg.exportable}}) {
    if (auto* v = body->if_contains(field)) {
      if (!v->is_bool()) return make_error(Errc::kInvalidArgument, std::string(field) + " must be a boolean");
      *slot = v->get_bool();
    }
  }
  return cfg;
}

void configure_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto cfg = key_config(req);
  if (!cfg) return reply(error_from(req, cfg.error()));
  d.kms->configure_key(app, std::string(req.param("name")), *cfg, kms::Actor::App, key_reply(req, reply, 200));
}

// Makes the key a tombstone (or deletes it at once when kms.deletion_delay is 0).
void delete_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  d.kms->delete_key(app, std::string(req.param("name")), key_reply(req, reply, 200));
}

void export_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto keys = d.kms->export_key(app, std::string(req.param("name")));
  if (!keys) return reply(error_from(req, keys.error()));
  json::object versions;
  for (const auto& [v, k] : *keys) versions[std::to_string(v)] = crypto::base64_encode(k.view());
  reply(ok_json(200, json::object{{"name", std::string(req.param("name"))}, {"versions", std::move(versions)}}));
}

// The body of a crypto route and the key it names.
struct KeyedBody {
  json::object body;
  std::string key;
};

Result<KeyedBody> keyed_body(const Request& req) {
  auto body = body_object(req);
  if (!body) return body.error();
  auto key = str_field(*body, "key");
  if (!key) return key.error();
  return KeyedBody{std::move(*body), std::move(*key)};
}

// encrypt / decrypt / rewrap: the same shape, one item (or each item of a batch) in,
// one result out; in memory, answered at once.
using ItemOp = Result<json::object> (*)(kms::KeyService& kms, const std::string& app, const std::string& key,
                                        const json::object& item);

Result<json::object> encrypt_item(kms::KeyService& kms, const std::string& app, const std::string& key,
                                  const json::object& item) {
  auto pt = b64_field(item, "plaintext", true);
  if (!pt) return pt.error();
  auto ctx = b64_field(item, "context", false);
  if (!ctx) return ctx.error();
  auto ct = kms.encrypt(app, key, *pt, *ctx);
  if (!ct) return ct.error();
  return json::object{{"ciphertext", *ct}};
}

Result<json::object> decrypt_item(kms::KeyService& kms, const std::string& app, const std::string& key,
                                  const json::object& item) {
  auto ct = str_field(item, "ciphertext");
  if (!ct) return ct.error();
  auto ctx = b64_field(item, "context", false);
  if (!ctx) return ctx.error();
  auto pt = kms.decrypt(app, key, *ct, *ctx);
  if (!pt) return pt.error();
  std::string b64 = crypto::base64_encode(pt->view());
  json::object o{{"plaintext", b64}};
  OPENSSL_cleanse(b64.data(), b64.size());
  return o;
}

Result<json::object> rewrap_item(kms::KeyService& kms, const std::string& app, const std::string& key,
                                 const json::object& item) {
  auto ct = str_field(item, "ciphertext");
  if (!ct) return ct.error();
  auto ctx = b64_field(item, "context", false);
  if (!ctx) return ctx.error();
  auto out = kms.rewrap(app, key, *ct, *ctx);
  if (!out) return out.error();
  return json::object{{"ciphertext", *out}};
}

struct ItemRoute {
  const char* path;
  ItemOp op;
};
constexpr ItemRoute kItemRoutes[] = {
    {"/api/v1/kms/encrypt", encrypt_item},
    {"/api/v1/kms/decrypt", decrypt_item},
    {"/api/v1/kms/rewrap", rewrap_item},
};

AsyncHandler item_route(const std::shared_ptr<KmsRoutesDeps>& d, ItemOp op) {
  return signed_async(
      d->auth, apps::kScopeKms, [d, op](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
        auto in = keyed_body(req);
        if (!in) return reply(error_from(req, in.error()));
        reply(single_or_batch(req, in->body,
                              [&](const json::object& item) { return op(*d->kms, app->id, in->key, item); }));
      });
}

Response datakey(KmsRoutesDeps& d, const Request& req, const std::string& app, const KeyedBody& in) {
  const json::object& body = in.body;
  std::size_t bits = 256;
  if (auto* b = body.if_contains("bits")) {
    if (!b->is_int64()) return error_from(req, Error{Errc::kInvalidArgument, "bits is 128, 256 or 512"});
    bits = static_cast<std::size_t>(b->get_int64());
  }
  bool with_plaintext = true;
  if (auto* p = body.if_contains("plaintext")) {
    if (!p->is_bool()) return error_from(req, Error{Errc::kInvalidArgument, "plaintext must be a boolean"});
    with_plaintext = p->get_bool();
  }
  auto ctx = b64_field(body, "context", false);
  if (!ctx) return error_from(req, ctx.error());
  auto dk = d.kms->datakey(app, in.key, bits / 8, with_plaintext, *ctx);
  if (!dk) return error_from(req, dk.error());
  json::object o{{"ciphertext", dk->ciphertext}};
  if (!dk->plaintext) return ok_json(200, o);
  std::string b64 = crypto::base64_encode(dk->plaintext->view());
  o["plaintext"] = b64;
  OPENSSL_cleanse(b64.data(), b64.size());
  return secret_json(200, std::move(o));
}

void datakey_route(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto in = keyed_body(req);
  if (!in) return reply(error_from(req, in.error()));
  reply(datakey(d, req, app, *in));
}

// Admin: /admin/v1/apps/{app}/kms/keys... (the admin token; the app by id, key or name).
using AdminKmsHandler = void (*)(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply);

AsyncHandler admin_route(const std::shared_ptr<KmsRoutesDeps>& d, AdminKmsHandler fn) {
  return admin_app_async(d->apps, d->admin_token_sha256, [d, fn](Request&& req, std::string app_id, Reply reply) {
    fn(*d, std::move(req), app_id, std::move(reply));
  });
}

void admin_configure_key(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  auto cfg = key_config(req);
  if (!cfg) return reply(error_from(req, cfg.error()));
  d.kms->configure_key(app, std::string(req.param("name")), *cfg, kms::Actor::Admin, key_reply(req, reply, 200));
}

void admin_cancel_deletion(KmsRoutesDeps& d, Request&& req, const std::string& app, Reply reply) {
  d.kms->cancel_deletion(app, std::string(req.param("name")), key_reply(req, reply, 200));
}

void add_admin_kms_routes(Router& router, const std::shared_ptr<KmsRoutesDeps>& d) {
  router.add_async("GET", "/admin/v1/apps/{app}/kms/keys", admin_route(d, list_keys));
  router.add_async("GET", "/admin/v1/apps/{app}/kms/keys/{name}", admin_route(d, get_key));
  router.add_async("POST", "/admin/v1/apps/{app}/kms/keys/{name}/config", admin_route(d, admin_configure_key));
  router.add_async("POST", "/admin/v1/apps/{app}/kms/keys/{name}/cancel-deletion",
                   admin_route(d, admin_cancel_deletion));
}

}  // namespace

void add_kms_routes(Router& router, KmsRoutesDeps deps) {
  auto d = std::make_shared<KmsRoutesDeps>(deps);
  router.add_async("POST", "/api/v1/kms/keys", signed_route(d, create_key));
  router.add_async("GET", "/api/v1/kms/keys", signed_route(d, list_keys));
  router.add_async("GET", "/api/v1/kms/keys/{name}", signed_route(d, get_key));
  router.add_async("POST", "/api/v1/kms/keys/{name}/rotate", signed_route(d, rotate_key));
  router.add_async("POST", "/api/v1/kms/keys/{name}/config", signed_route(d, configure_key));
  router.add_async("DELETE", "/api/v1/kms/keys/{name}", signed_route(d, delete_key));
  router.add_async("POST", "/api/v1/kms/keys/{name}/export", signed_route(d, export_key));
  for (const auto& r : kItemRoutes) router.add_async("POST", r.path, item_route(d, r.op));
  router.add_async("POST", "/api/v1/kms/datakey", signed_route(d, datakey_route));
  if (d->apps) add_admin_kms_routes(router, d);
}

}  // namespace herald::api

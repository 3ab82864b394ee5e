// Read-only views of the audit log; proofs are computed from the stored subtrees.
#include "api/audit_routes.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/admin_routes.h"
#include "api/errors.h"
#include "api/json_body.h"
#include "api/server_auth.h"
#include "audit/log.h"
#include "audit/verifier.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/secret.h"
#include "kms/key_service.h"

namespace herald::api {
namespace {

namespace json = boost::json;

json::array hex_list(const std::vector<audit::Hash>& v) {
  json::array a;
  for (const auto& h : v) a.push_back(json::string(audit::to_hex(h)));
  return a;
}

using Deps = std::shared_ptr<AuditRoutesDeps>;

// Who is reading: the operator (admin token) sees every entry; an app with the `admin`
// scope sees only the entries it is the actor of, so no tenant reads another's activity.
struct Viewer {
  std::string actor;  // empty: the operator
  bool sees(const std::string& body) const {
    if (actor.empty()) return true;
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return false;
    const auto* a = v.as_object().if_contains("actor");
    return a && a->is_string() && a->as_string() == actor;
  }
};

Response entries_view(const AuditRoutesDeps& d, const Viewer& who, const Request& req) {
  auto start = query_u64(req.query, "start").value_or(0);
  auto count = std::min<std::uint64_t>(query_u64(req.query, "count").value_or(100), 1000);
  // This node's log by default; on a shared store, `log` names another node's.
  auto other = query_param(req.query, "log");
  const bool own = !other || *other == d.log->name();
  std::uint64_t size = d.log->durable_size();
  if (!own) {
    auto s = d.log->size_of(*other);
    if (!s) return error_from(req, s.error());
    size = *s;
  }
  std::string out = "{\"log\":" + json::serialize(json::string(own ? d.log->name() : *other)) +
                    ",\"size\":" + std::to_string(size) + ",\"entries\":[";
  if (start < size) {
    // `count` bounds the indices scanned, not the entries returned: an app's page may
    // hold fewer (or none) and it pages on by index.
    count = std::min(count, size - start);
    auto page = own ? d.log->entries(start, count) : d.log->entries_of(*other, start, count);
    if (!page) return error_from(req, page.error());
    bool first = true;
    for (const auto& e : *page) {
      if (!who.sees(e.body)) continue;
      out += std::string(first ? "" : ",") + "{\"index\":" + std::to_string(e.seq) + ",\"leaf_hash\":\"" +
             crypto::hex_encode(e.leaf_hash) + "\",\"entry\":" + e.body + "}";
      first = false;
    }
  }
  out += "]}";
  return Response{200, "application/json", std::move(out), {}, {}, {}};
}

Response checkpoint_view(const AuditRoutesDeps& d, const Viewer&, const Request& req) {
  auto cp = d.log->verified_checkpoint();
  if (!cp) return error_from(req, cp.error());
  if (!*cp) return error_from(req, Error{Errc::kNotFoundCheckpoint, "no checkpoint has been signed yet"});
  auto pem = d.log->public_key_pem();
  if (!pem) return error_from(req, pem.error());
  audit::SavedCheckpoint s{(*cp)->size, (*cp)->root, (*cp)->ts_ms, (*cp)->signature, *pem, d.log->name()};
  return Response{200, "application/json", audit::saved_checkpoint_json(s), {}, {}, {}};
}

Response inclusion_view(const AuditRoutesDeps& d, const Viewer& who, const Request& req) {
  auto index = query_u64(req.query, "index");
  auto size = query_u64(req.query, "size");
  if (!index || !size) return error_from(req, Error{Errc::kInvalidArgument, "index and size are required"});
  if (!who.actor.empty()) {
    // Proofs only for the caller's own entries; another's index answers as if absent.
    auto mine = d.log->entries(*index, 1);
    if (!mine || mine->empty() || mine->front().seq != *index || !who.sees(mine->front().body))
      return error_from(req, Error{Errc::kNotFound, "no entry of this app at this index"});
  }
  auto p = d.log->inclusion(*index, *size);
  if (!p) return error_from(req, p.error());
  auto root = d.log->root(*size);
  auto leaf = d.log->entries(*index, 1);
  if (!root || !leaf || leaf->empty()) return error_from(req, Error{Errc::kInternal, "the log could not be read"});
  return ok_json(200, json::object{{"index", *index},
                                   {"size", *size},
                                   {"leaf_hash", crypto::hex_encode(leaf->front().leaf_hash)},
                                   {"root", audit::to_hex(*root)},
                                   {"proof", hex_list(*p)}});
}

Response consistency_view(const AuditRoutesDeps& d, const Viewer&, const Request& req) {
  auto first = query_u64(req.query, "first");
  auto second = query_u64(req.query, "second");
  if (!first || !second) return error_from(req, Error{Errc::kInvalidArgument, "first and second are required"});
  auto p = d.log->consistency(*first, *second);
  if (!p) return error_from(req, p.error());
  auto r1 = d.log->root(*first), r2 = d.log->root(*second);
  if (!r1 || !r2) return error_from(req, Error{Errc::kInternal, "the log could not be read"});
  return ok_json(200, json::object{{"first", *first},
                                   {"second", *second},
                                   {"first_root", audit::to_hex(*r1)},
                                   {"second_root", audit::to_hex(*r2)},
                                   {"proof", hex_list(*p)}});
}

Response pubkey_view(const AuditRoutesDeps& d, const Viewer&, const Request& req) {
  auto pem = d.log->public_key_pem();
  if (!pem) return error_from(req, pem.error());
  return ok_json(200, json::object{{"algorithm", "Ed25519"}, {"public_key", *pem}});
}

using View = Response (*)(const AuditRoutesDeps& d, const Viewer& who, const Request& req);

struct ViewRoute {
  const char* path;  // under /admin/v1/audit and /api/v1/audit
  View view;
};
constexpr ViewRoute kViews[] = {
    {"/checkpoint", checkpoint_view},     {"/entries", entries_view}, {"/proof/consistency", consistency_view},
    {"/proof/inclusion", inclusion_view}, {"/pubkey", pubkey_view},
};

AsyncHandler admin_view(const Deps& d, View view) {
  return [d, view](Request&& req, Reply reply) {
    Response r;
    if (!admin_authorized(req, d->admin_token_sha256)) {
      r = error_response(Errc::kAdminUnauthorized, req.request_id);
    } else {
      r = view(*d, Viewer{}, req);
      r.actor = "admin";
    }
    reply(std::move(r));
  };
}

AsyncHandler signed_view(const Deps& d, View view) {
  return signed_async(d->auth, apps::kScopeAdmin,
                      [d, view](Request&& req, std::shared_ptr<const apps::App> app, Reply reply) {
                        reply(view(*d, Viewer{"app:" + app->id}, req));
                      });
}

}  // namespace

void add_audit_routes(Router& router, AuditRoutesDeps deps) {
  auto d = std::make_shared<AuditRoutesDeps>(std::move(deps));
  for (const auto& [path, view] : kViews) {
    router.add_async("GET", std::string("/admin/v1/audit") + path, admin_view(d, view));
    router.add_async("GET", std::string("/api/v1/audit") + path, signed_view(d, view));
  }
}

}  // namespace herald::api

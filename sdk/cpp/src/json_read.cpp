// The shapes the server answers with (docs/server-api.md, docs/admin-api.md).
#include "json_read.h"

namespace herald::sdk::detail {

std::vector<std::string> strings_or_list(const json::value* v) {
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {  // "publish,otp"
    std::string_view s = v->get_string();
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t comma = s.find(',', start);
      std::string_view item = s.substr(start, comma == std::string_view::npos ? s.npos : comma - start);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return out;
  }
  if (!v->is_array()) throw Malformed{"a list is neither an array nor a string"};
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) throw Malformed{"a list holds a non-string"};
    out.emplace_back(e.get_string());
  }
  return out;
}

AppInfo read_app(const json::object& o) {
  AppInfo a;
  a.id = str(o, "id");
  a.key = str(o, "key");
  a.name = str(o, "name");
  a.status = str(o, "status");
  a.created_ms = i64_or(o, "created_ms");
  a.scopes = strings_or_list(o.if_contains("scopes"));
  a.namespaces = strings_or_list(o.if_contains("namespaces"));
  a.allowed_cidrs = strings_or_list(o.if_contains("allowed_cidrs"));
  if (o.contains("rate_limit")) a.rate_limit = u64(o, "rate_limit");
  if (o.contains("secrets"))
    for (const auto& s : arr(o, "secrets")) {
      const auto& so = obj(s, "a secret");
      a.secrets.push_back(SecretInfo{str(so, "id"), i64_or(so, "created_ms")});
    }
  if (o.contains("client_keys"))
    for (const auto& k : arr(o, "client_keys")) {
      const auto& ko = obj(k, "a client key");
      a.client_keys.push_back(ClientKeyInfo{str(ko, "alg"), str_or(ko, "kid")});
    }
  a.jwt_audience = str_or(o, "jwt_audience");
  a.jwt_issuer = str_or(o, "jwt_issuer");
  if (const auto* r = o.if_contains("require_exp"); r && r->is_bool()) a.require_exp = r->get_bool();
  a.json = json::serialize(o);
  return a;
}

PublishResult read_publish(const json::object& o) {
  PublishResult p;
  p.channel = str_or(o, "channel");
  p.offset = u64(o, "offset");
  p.epoch = str(o, "epoch");
  p.id = str(o, "id");
  return p;
}

namespace {
std::optional<std::string> optional_str(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) throw Malformed{std::string(name) + " is neither a string nor null"};
  return std::string(v->get_string());
}
}  // namespace

Contacts read_contacts(const json::object& o) {
  return Contacts{str(o, "user"), optional_str(o, "email"), optional_str(o, "phone")};
}

std::string contacts_body(const std::optional<std::string>& email, const std::optional<std::string>& phone) {
  json::object body;
  body["email"] = email ? json::value(*email) : json::value(nullptr);
  body["phone"] = phone ? json::value(*phone) : json::value(nullptr);
  return json::serialize(body);
}

}  // namespace herald::sdk::detail

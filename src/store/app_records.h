// Apps as the store keeps them. Secrets arrive here already sealed (AES-256-GCM by the
// apps module); the store never sees plaintext.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace herald::store {

using Completion = std::function<void(Status)>;

struct AppRecord {
  std::string id;
  std::string key;
  std::string name;
  std::string status;  // "active" or "suspended"
  std::int64_t created_ms = 0;
  std::string client_secret_sealed;     // sealed bytes; empty when the app has no HS256 secret
  std::string client_public_keys_json;  // [{"alg":"ES256"|"EdDSA","kid":"...","pem":"..."}] (public)
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = false;
  std::string app_secrets_json;  // [{"id":"...","sealed":"<base64>","created_ms":N}]
  std::string scopes;            // "publish,otp"
  std::string namespaces;        // "*" or "chat,news"
  std::string allowed_cidrs;     // "10.0.0.0/8,2001:db8::/32" or ""
  std::uint32_t rate_limit = 0;
  // "v1:<hex>": MAC of the fields above (apps/record_mac.h), made by the apps module.
  std::string record_mac;
  // Not a column: when set, put_app replaces the row only while its record_mac is still
  // this one (the record the change was made from), else "conflict": another node
  // changed the app meanwhile, and its change must not be lost.
  std::string if_record_mac;
};

class AppRecords {
 public:
  virtual ~AppRecords() = default;
  virtual Result<std::vector<AppRecord>> load_apps() = 0;
  // Inserts or replaces the app with this id. Fails with "conflict" if another app has
  // the same key or name, or if `app.if_record_mac` is set and the row's is not it
  // ("not_found" if the row is gone).
  virtual void put_app(AppRecord app, Completion done) = 0;
  virtual void delete_app(std::string id, Completion done) = 0;
};

}  // namespace herald::store

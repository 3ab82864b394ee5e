// An app: one tenant of Herald, with the keys its back end signs server-API requests
// with and the keys its clients' JWTs are verified with. AppDirectory is how the other
// modules find apps; implementations keep them in the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ip_allowlist.h"
#include "auth/jwt.h"
#include "crypto/secret.h"

namespace herald::apps {

enum class AppStatus { Active, Suspended };

// What an app's back end may do through the server API.
enum Scope : unsigned { kScopePublish = 1, kScopeOtp = 2, kScopeKms = 4, kScopeAdmin = 8 };
constexpr unsigned kAllScopes = kScopePublish | kScopeOtp | kScopeKms | kScopeAdmin;
// "publish,otp" <-> bits. parse_scopes fails with "invalid_argument" on an unknown name.
Result<unsigned> parse_scopes(std::string_view list);
std::string scopes_text(unsigned scopes);
const char* scope_name(Scope s);

// An AppSecret: the HMAC key of signed requests. Up to two are active (rotation).
struct AppSecret {
  std::string id;  // public handle for revoking it, e.g. "s1a2b3c4"
  crypto::SecretBytes secret;
  std::int64_t created_ms = 0;
};

// An HS256 client secret as the admin API names it; the secret itself is shown once.
struct ClientSecretInfo {
  std::string id;  // e.g. "c0" (the one made with the app), "c1a2b3c4d"
  std::int64_t created_ms = 0;
};

struct App {
  std::string id;   // internal, stable
  std::string key;  // AppKey: public identifier that clients and back ends name
  std::string name;
  AppStatus status = AppStatus::Active;
  std::int64_t created_ms = 0;
  // Server API: secrets, scopes, the namespaces it may publish to ("*" = all), the
  // addresses it may call from (empty = any), and its request rate (0 = no cap).
  std::vector<AppSecret> secrets;
  unsigned scopes = kScopePublish;
  std::vector<std::string> namespaces{"*"};
  auth::IpAllowlist allowlist;
  std::uint32_t rate_limit = 0;
  bool may_publish_to(std::string_view ns) const {
    for (const auto& n : namespaces)
      if (n == "*" || n == ns) return true;
    return false;
  }
  // Client (end-user) authentication: the keys JWTs are checked with, and the policy.
  std::vector<auth::JwtKey> client_keys;
  std::vector<ClientSecretInfo> client_secrets;  // the HS256 keys among client_keys, without the key
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = true;
  std::int64_t max_token_lifetime_s = 0;  // 0: the server's push.max_token_lifetime; else the lower of both
  std::int64_t tokens_issued_after = 0;   // Unix seconds; tokens with an earlier iat are refused; 0 = none
};

class AppDirectory {
 public:
  virtual ~AppDirectory() = default;
  // The app with this AppKey, or null. Safe from any thread; the result is immutable and
  // stays valid while held even if the app changes meanwhile.
  virtual std::shared_ptr<const App> find_by_key(std::string_view app_key) const = 0;
  virtual std::shared_ptr<const App> find_by_id(std::string_view app_id) const = 0;
};

}  // namespace herald::apps

// An app: one tenant of Herald, with the keys its back end signs server-API requests
// with and the keys its clients' JWTs are verified with. AppDirectory is how the other
// modules find apps; implementations keep them in the store.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.h"

namespace herald::apps {

enum class AppStatus { Active, Suspended };

struct App {
  std::string id;    // internal, stable
  std::string key;   // AppKey: public identifier that clients and back ends name
  std::string name;
  AppStatus status = AppStatus::Active;
  // Client (end-user) authentication: the keys JWTs are checked with, and the policy.
  std::vector<auth::JwtKey> client_keys;
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = false;
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

// Loading, creating and unsealing apps. Secrets are generated here from the CSPRNG and
// sealed before they reach the store.
#include "apps/app_store.h"

#include <boost/json.hpp>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "store/store.h"

namespace herald::apps {
namespace {

constexpr std::string_view kClientSecretField = "client_secret";

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string associated(const std::string& field) { return "apps/" + field; }

}  // namespace

bool valid_app_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  return true;
}

Result<App> AppStore::from_record(const store::AppRecord& r) {
  App app;
  app.id = r.id;
  app.key = r.key;
  app.name = r.name;
  app.status = r.status == "suspended" ? AppStatus::Suspended : AppStatus::Active;
  app.jwt_audience = r.jwt_audience;
  app.jwt_issuer = r.jwt_issuer;
  app.require_exp = r.require_exp;
  if (!r.client_secret_sealed.empty()) {
    auto secret = sealer_.open(r.id, r.client_secret_sealed, associated(std::string(kClientSecretField)));
    if (!secret) return make_error(secret.error().code, "app " + r.name + ": the client secret does not open");
    auth::JwtKey k;
    k.alg = auth::JwtAlg::HS256;
    k.secret = std::move(*secret);
    app.client_keys.push_back(std::move(k));
  }
  boost::json::error_code ec;
  auto keys = boost::json::parse(r.client_public_keys_json.empty() ? "[]" : r.client_public_keys_json, ec);
  if (ec || !keys.is_array()) return make_error("store_error", "app " + r.name + ": client public keys are corrupt");
  for (const auto& v : keys.get_array()) {
    const auto* o = v.if_object();
    if (!o || !o->contains("alg") || !o->contains("pem") || !o->at("alg").is_string() || !o->at("pem").is_string())
      return make_error("store_error", "app " + r.name + ": a client public key is corrupt");
    auto pem = o->at("pem").get_string();
    auto key = crypto::PublicKey::from_pem(std::string_view(pem.data(), pem.size()));
    if (!key) return make_error("store_error", "app " + r.name + ": a client public key does not parse");
    auth::JwtKey k;
    k.alg = o->at("alg").get_string() == "EdDSA" ? auth::JwtAlg::EdDSA : auth::JwtAlg::ES256;
    if (auto* kid = o->if_contains("kid"); kid && kid->is_string()) k.kid = std::string(kid->get_string());
    k.public_key = *key;
    app.client_keys.push_back(std::move(k));
  }
  return app;
}

Status AppStore::load() {
  auto rows = records_.load_apps();
  if (!rows) return rows.error();
  for (const auto& r : *rows) {
    auto app = from_record(r);
    if (!app) return app.error();
    cache_.put(std::move(*app));
  }
  std::lock_guard lock(mu_);
  records_cache_ = std::move(*rows);
  return ok_status();
}

Result<CreatedApp> AppStore::create(const std::string& name) {
  if (!valid_app_name(name))
    return make_error("invalid_argument", "an app name is 1 to 64 characters of A-Z a-z 0-9 _ . -");
  if (find_by_name(name)) return make_error("conflict", "an app named " + name + " exists already");
  store::AppRecord r;
  r.id = "app_" + crypto::random_hex(8);
  r.key = "hk_" + crypto::random_hex(12);
  r.name = name;
  r.status = "active";
  r.created_ms = unix_ms();
  unsigned char raw[32];
  crypto::random_bytes(raw, sizeof raw);
  std::string client_secret = crypto::base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
  r.client_secret_sealed = sealer_.seal(r.id, client_secret, associated(std::string(kClientSecretField)));
  r.client_public_keys_json = "[]";
  auto st = store::wait_for([&](store::Completion done) { records_.put_app(r, std::move(done)); });
  if (!st) return st.error();
  auto app = from_record(r);
  if (!app) return app.error();
  cache_.put(*app);
  {
    std::lock_guard lock(mu_);
    records_cache_.push_back(r);
  }
  return CreatedApp{cache_.find_by_id(r.id), std::move(client_secret)};
}

std::vector<std::shared_ptr<const App>> AppStore::list() const {
  std::vector<std::shared_ptr<const App>> out;
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_)
    if (auto a = cache_.find_by_id(r.id)) out.push_back(std::move(a));
  return out;
}

std::shared_ptr<const App> AppStore::find_by_name(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_)
    if (r.name == name) return cache_.find_by_id(r.id);
  return nullptr;
}

Result<std::string> AppStore::client_secret(const App& app) {
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_) {
    if (r.id != app.id) continue;
    auto s = sealer_.open(r.id, r.client_secret_sealed, associated(std::string(kClientSecretField)));
    if (!s) return s.error();
    return std::string(s->view());
  }
  return make_error("not_found", "no such app");
}

}  // namespace herald::apps

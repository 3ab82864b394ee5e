// Loading, creating and changing apps. Secrets are generated here from the CSPRNG and
// sealed (bound to their app and field) before they reach the store; every record written
// carries a MAC of its plaintext columns, checked at load.
#include "apps/app_store.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <future>

#include "apps/record_mac.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "store/store.h"

namespace herald::apps {
namespace {

// A new secret: `prefix` and `bytes` random bytes in base64url, built and kept in
// SecretBytes; the intermediate strings are wiped.
crypto::SecretBytes random_token(std::string_view prefix, std::size_t bytes) {
  crypto::SecretBytes raw = crypto::random_secret(bytes);
  std::string text = std::string(prefix) + crypto::base64url_encode(raw.view());
  crypto::SecretBytes out(text);
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
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

std::string join_list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

template <class T>
Result<T> wait_result(const std::function<void(Done<T>)>& start) {
  std::promise<Result<T>> p;
  auto f = p.get_future();
  start([&p](Result<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

constexpr std::string_view kClientSecretField = "client_secret";

}  // namespace

Result<unsigned> parse_scopes(std::string_view list) {
  unsigned bits = 0;
  for (const auto& s : split_list(list)) {
    if (s == "publish")
      bits |= kScopePublish;
    else if (s == "otp")
      bits |= kScopeOtp;
    else if (s == "kms")
      bits |= kScopeKms;
    else if (s == "admin")
      bits |= kScopeAdmin;
    else
      return make_error(Errc::kInvalidArgument, "unknown scope '" + s + "' (publish, otp, kms, admin)");
  }
  return bits;
}

const char* scope_name(Scope s) {
  switch (s) {
    case kScopePublish:
      return "publish";
    case kScopeOtp:
      return "otp";
    case kScopeKms:
      return "kms";
    case kScopeAdmin:
      return "admin";
  }
  return "?";
}

std::string scopes_text(unsigned scopes) {
  std::vector<std::string> names;
  for (Scope s : {kScopePublish, kScopeOtp, kScopeKms, kScopeAdmin})
    if (scopes & s) names.emplace_back(scope_name(s));
  return join_list(names);
}

bool valid_app_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  return true;
}

AppStore::AppStore(store::AppRecords& records, kms::Sealer& sealer, metrics::Registry* registry)
    : records_(records), sealer_(sealer) {
  if (!registry) return;
  m_rejected_ = &registry->counter("herald_app_records_rejected_total",
                                   "App records left out at load (the app is unavailable), by reason", {"reason"});
  m_unavailable_ =
      &registry->gauge("herald_apps_unavailable", "Apps whose stored record did not load at the last unseal").with({});
}

Result<std::string> AppStore::seal_secret(const std::string& app_id, const std::string& secret_id,
                                          std::string_view secret) {
  auto sealed = sealer_.seal(app_id, secret, "apps/app_secret/" + secret_id);
  if (!sealed) return sealed.error();
  return crypto::base64_encode(*sealed);
}

Result<App> AppStore::from_record(const store::AppRecord& r) {
  App app;
  app.id = r.id;
  app.key = r.key;
  app.name = r.name;
  app.status = r.status == "suspended" ? AppStatus::Suspended : AppStatus::Active;
  app.created_ms = r.created_ms;
  app.jwt_audience = r.jwt_audience;
  app.jwt_issuer = r.jwt_issuer;
  app.require_exp = r.require_exp;
  app.rate_limit = r.rate_limit;
  auto corrupt = [&](const std::string& what) { return make_error(Errc::kStoreError, "app " + r.name + ": " + what); };
  if (auto st = load_client_auth(r, app); !st) return st.error();
  boost::json::error_code ec;
  auto secrets = boost::json::parse(r.app_secrets_json.empty() ? "[]" : r.app_secrets_json, ec);
  if (ec || !secrets.is_array()) return corrupt("app secrets are corrupt");
  for (const auto& v : secrets.get_array()) {
    const auto* o = v.if_object();
    if (!o || !o->contains("id") || !o->contains("sealed") || !o->at("id").is_string() || !o->at("sealed").is_string())
      return corrupt("an app secret is corrupt");
    std::string id(o->at("id").get_string());
    auto sealed = crypto::base64_decode(std::string_view(o->at("sealed").get_string()));
    if (!sealed) return corrupt("an app secret is corrupt");
    auto secret = sealer_.open(r.id, *sealed, "apps/app_secret/" + id);
    if (!secret) return make_error(secret.error().code, "app " + r.name + ": an app secret does not open");
    AppSecret s;
    s.id = id;
    s.secret = std::move(*secret);
    if (auto* c = o->if_contains("created_ms"); c && c->is_int64()) s.created_ms = c->get_int64();
    app.secrets.push_back(std::move(s));
  }
  auto scopes = parse_scopes(r.scopes);
  if (!scopes) return corrupt("scopes are corrupt");
  app.scopes = *scopes;
  app.namespaces = split_list(r.namespaces);
  std::vector<auth::Cidr> blocks;
  for (const auto& c : split_list(r.allowed_cidrs)) {
    auto b = auth::parse_cidr(c);
    if (!b) return corrupt("the IP allowlist is corrupt");
    blocks.push_back(*b);
  }
  app.allowlist = auth::IpAllowlist(std::move(blocks));
  return app;
}

Result<App> AppStore::load_record(store::AppRecord& r, bool macs_required, std::vector<store::AppRecord>& to_mac) {
  if (!macs_required && r.record_mac.empty()) {
    // Written before record MACs: trusted as it is this once, and MACed now.
    auto app = from_record(r);
    if (!app) return app.error();
    auto mac = record_mac(sealer_, r);
    if (!mac) return mac.error();
    r.record_mac = std::move(*mac);
    to_mac.push_back(r);
    return app;
  }
  if (auto st = verify_record_mac(sealer_, r); !st) return st.error();
  return from_record(r);
}

Status AppStore::load() {
  std::lock_guard serial(reload_mu_);
  auto rows = records_.load_apps();
  if (!rows) return rows.error();
  const bool macs_required = sealer_.macs_required();
  std::vector<store::AppRecord> loaded, to_mac;
  std::vector<UnavailableApp> bad;
  for (auto& r : *rows) {
    auto app = load_record(r, macs_required, to_mac);
    if (!app) {
      // One bad row costs its own app only: the others load and serve.
      const std::string& m = app.error().message;
      std::string reason = (m == "mac_missing" || m == "mac_mismatch") ? m : "unreadable";
      log::error("app_unavailable", {{"app", r.id}, {"name", r.name}, {"reason", reason}, {"error", m}});
      if (m_rejected_) m_rejected_->with({reason}).inc();
      bad.push_back(UnavailableApp{r.id, r.name, std::move(reason)});
      continue;
    }
    cache_.put(std::move(*app));
    loaded.push_back(std::move(r));
  }
  {
    std::lock_guard lock(mu_);
    records_cache_ = std::move(loaded);
    unavailable_ = std::move(bad);
    ++generation_;
    if (m_unavailable_) m_unavailable_->set(static_cast<std::int64_t>(unavailable_.size()));
  }
  if (!macs_required) return add_missing_macs(to_mac);
  return ok_status();
}

Status AppStore::add_missing_macs(const std::vector<store::AppRecord>& to_mac) {
  for (const auto& r : to_mac) {
    log::warn("app_record_mac_added", {{"app", r.id}, {"name", r.name}});
    auto st = store::wait_for([&](store::Completion d) { records_.put_app(r, std::move(d)); });
    if (!st) return st;
  }
  // Only once every record has its MAC: from now on a record without one is refused.
  return sealer_.require_macs();
}

void AppStore::unload() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : records_cache_) ids.push_back(r.id);
    records_cache_.clear();
    unavailable_.clear();
    ++generation_;
  }
  for (const auto& id : ids) cache_.remove(id);
}

void AppStore::commit(Change change, std::function<void()> then, std::function<void(Error)> fail, bool is_delete) {
  if (!is_delete) {
    // The write lands only on the row as this change read it: another node's change to
    // the app since is not overwritten ("conflict"; this node reloads it meanwhile).
    change.record.if_record_mac = change.record.record_mac;
    auto mac = record_mac(sealer_, change.record);
    if (!mac) {
      change.finish();
      return fail(mac.error());
    }
    change.record.record_mac = std::move(*mac);
  }
  auto pending = std::make_shared<Change>(std::move(change));
  auto done = [this, pending, then = std::move(then), fail = std::move(fail), is_delete](Status st) {
    Status applied = st ? apply(pending->record, is_delete) : st;
    pending->finish();  // before the caller hears: it may change the app again at once
    if (applied)
      then();
    else
      fail(applied.error());
  };
  if (is_delete)
    records_.delete_app(pending->record.id, std::move(done));
  else
    records_.put_app(pending->record, std::move(done));
}

Status AppStore::apply(const store::AppRecord& r, bool is_delete) {
  if (is_delete) {
    cache_.remove(r.id);
    std::lock_guard lock(mu_);
    std::erase_if(records_cache_, [&](const auto& x) { return x.id == r.id; });
    ++generation_;
    return ok_status();
  }
  auto app = from_record(r);
  if (!app) return app.error();
  cache_.put(std::move(*app));
  std::lock_guard lock(mu_);
  ++generation_;
  auto it = std::find_if(records_cache_.begin(), records_cache_.end(), [&](const auto& x) { return x.id == r.id; });
  if (it == records_cache_.end())
    records_cache_.push_back(r);
  else
    *it = r;
  return ok_status();
}

Result<AppStore::Change> AppStore::begin_change(const std::string& app) {
  auto a = find(app);
  if (!a) return make_error(Errc::kNotFound, "no such app");
  std::lock_guard lock(mu_);
  if (busy_.count(a->id)) return make_error(Errc::kConflict, "another change to this app is under way; retry");
  for (const auto& r : records_cache_) {
    if (r.id != a->id) continue;
    busy_.insert(r.id);
    return Change(*this, r);
  }
  return make_error(Errc::kNotFound, "no such app");
}

void AppStore::Change::finish() {
  if (auto* apps = std::exchange(apps_, nullptr)) apps->end_change(record.id);
}

void AppStore::end_change(const std::string& id) {
  std::lock_guard lock(mu_);
  busy_.erase(id);
  creating_.erase(id);
}

void AppStore::create(AppOptions o, Done<CreatedApp> done) {
  if (!valid_app_name(o.name))
    return done(make_error(Errc::kInvalidArgument, "an app name is 1 to 64 characters of A-Z a-z 0-9 _ . -"));
  for (const auto& ns : o.namespaces)
    if (ns != "*" && !valid_namespace_name(ns))
      return done(make_error(Errc::kInvalidArgument, "'" + ns + "' is not a namespace name"));
  std::vector<std::string> cidrs;
  for (const auto& c : o.allowed_cidrs) {
    auto b = auth::parse_cidr(c);
    if (!b) return done(b.error());
    cidrs.push_back(b->text());
  }
  if ((o.scopes & ~kAllScopes) != 0 || o.scopes == 0)
    return done(make_error(Errc::kInvalidArgument, "an app needs at least one scope of publish, otp, kms, admin"));
  store::AppRecord r;
  r.id = "app_" + crypto::random_hex(8);
  r.key = "hk_" + crypto::random_hex(12);
  r.name = o.name;
  r.status = "active";
  r.created_ms = clock::unix_ms();
  boost::json::array keys;
  for (const auto& pem : o.client_public_keys_pem) {
    auto key = crypto::PublicKey::from_pem(pem);
    if (!key)
      return done(make_error(Errc::kInvalidArgument, "a client public key is not an Ed25519 or P-256 PEM public key"));
    boost::json::object k;
    k["alg"] = key->kind() == crypto::KeyKind::Ed25519 ? "EdDSA" : "ES256";
    k["kid"] = "k" + std::to_string(keys.size() + 1);
    k["pem"] = key->to_pem();
    keys.push_back(std::move(k));
  }
  r.client_public_keys_json = boost::json::serialize(keys);
  r.jwt_audience = o.jwt_audience;
  r.jwt_issuer = o.jwt_issuer;
  r.require_exp = o.require_exp;
  r.scopes = scopes_text(o.scopes);
  r.namespaces = join_list(o.namespaces);
  r.allowed_cidrs = join_list(cidrs);
  r.rate_limit = o.rate_limit;
  if (!o.hs256_client_secret && o.client_public_keys_pem.empty())
    return done(make_error(Errc::kInvalidArgument, "an app without a client secret needs client public keys"));
  {
    std::lock_guard lock(mu_);
    for (const auto& x : records_cache_)
      if (x.name == o.name) return done(make_error(Errc::kConflict, "an app named " + o.name + " exists already"));
  }
  // The app's keys first, durably: what is sealed below must never outlive its key.
  std::string id = r.id;
  sealer_.prepare(id,
                  [this, r = std::move(r), hs256 = o.hs256_client_secret, done = std::move(done)](Status st) mutable {
                    if (!st) return done(st.error());
                    create_with_keys(std::move(r), hs256, std::move(done));
                  });
}

void AppStore::create_with_keys(store::AppRecord r, bool hs256_client_secret, Done<CreatedApp> done) {
  auto client_secret = std::make_shared<crypto::SecretBytes>();
  if (hs256_client_secret) {
    *client_secret = random_token("", 32);
    auto sealed = sealer_.seal(r.id, client_secret->view(), "apps/" + std::string(kClientSecretField));
    if (!sealed) return done(sealed.error());
    r.client_secret_sealed = std::move(*sealed);
  }
  std::string secret_id = "s" + crypto::random_hex(4);
  auto app_secret = std::make_shared<crypto::SecretBytes>(random_token("as_", 36));
  auto sealed_secret = seal_secret(r.id, secret_id, app_secret->view());
  if (!sealed_secret) return done(sealed_secret.error());
  boost::json::array secrets;
  secrets.push_back(boost::json::object{{"id", secret_id}, {"sealed", *sealed_secret}, {"created_ms", r.created_ms}});
  r.app_secrets_json = boost::json::serialize(secrets);
  {
    std::lock_guard lock(mu_);
    for (const auto& x : records_cache_)
      if (x.name == r.name) return done(make_error(Errc::kConflict, "an app named " + r.name + " exists already"));
    for (const auto& [id, name] : creating_)
      if (name == r.name) return done(make_error(Errc::kConflict, "an app named " + r.name + " is being created"));
    creating_[r.id] = r.name;
    busy_.insert(r.id);
  }
  std::string id = r.id;
  Change change(*this, std::move(r));
  auto shared_done = std::make_shared<Done<CreatedApp>>(std::move(done));
  commit(
      std::move(change),
      [this, id, secret_id, app_secret, client_secret, shared_done] {
        (*shared_done)(CreatedApp{cache_.find_by_id(id), secret_id, std::move(*app_secret), std::move(*client_secret)});
      },
      [shared_done](Error e) { (*shared_done)(std::move(e)); });
}

void AppStore::rotate_secret(const std::string& app, Done<NewSecret> done) {
  auto change = begin_change(app);
  if (!change) return done(change.error());
  store::AppRecord& r = change->record;
  boost::json::error_code ec;
  auto secrets = boost::json::parse(r.app_secrets_json, ec);
  if (ec || !secrets.is_array()) return done(make_error(Errc::kStoreError, "the app's secrets are corrupt"));
  if (secrets.get_array().size() >= 2)
    return done(make_error(Errc::kTooManySecrets, "the app has two active secrets; revoke one first"));
  std::string secret_id = "s" + crypto::random_hex(4);
  auto secret = std::make_shared<crypto::SecretBytes>(random_token("as_", 36));
  auto sealed_secret = seal_secret(r.id, secret_id, secret->view());
  if (!sealed_secret) return done(sealed_secret.error());
  secrets.get_array().push_back(
      boost::json::object{{"id", secret_id}, {"sealed", *sealed_secret}, {"created_ms", clock::unix_ms()}});
  r.app_secrets_json = boost::json::serialize(secrets);
  auto shared_done = std::make_shared<Done<NewSecret>>(std::move(done));
  commit(
      std::move(*change),
      [secret_id, secret, shared_done] {
        (*shared_done)(NewSecret{secret_id, std::move(*secret)});
      },
      [shared_done](Error e) { (*shared_done)(std::move(e)); });
}

void AppStore::revoke_secret(const std::string& app, const std::string& secret_id, Done<Ok> done) {
  auto change = begin_change(app);
  if (!change) return done(change.error());
  store::AppRecord& r = change->record;
  boost::json::error_code ec;
  auto secrets = boost::json::parse(r.app_secrets_json, ec);
  if (ec || !secrets.is_array()) return done(make_error(Errc::kStoreError, "the app's secrets are corrupt"));
  auto& arr = secrets.get_array();
  auto it = std::find_if(arr.begin(), arr.end(), [&](const boost::json::value& v) {
    return v.is_object() && v.get_object().contains("id") && v.get_object().at("id") == secret_id.c_str();
  });
  if (it == arr.end()) return done(make_error(Errc::kNotFound, "the app has no secret with this id"));
  if (arr.size() == 1) return done(make_error(Errc::kLastSecret, "this is the app's only secret; rotate first"));
  arr.erase(it);
  r.app_secrets_json = boost::json::serialize(secrets);
  auto shared_done = std::make_shared<Done<Ok>>(std::move(done));
  commit(
      std::move(*change), [shared_done] { (*shared_done)(Ok{}); },
      [shared_done](Error e) { (*shared_done)(std::move(e)); });
}

void AppStore::set_status(const std::string& app, AppStatus status, Done<Ok> done) {
  auto change = begin_change(app);
  if (!change) return done(change.error());
  store::AppRecord& r = change->record;
  r.status = status == AppStatus::Active ? "active" : "suspended";
  auto shared_done = std::make_shared<Done<Ok>>(std::move(done));
  commit(
      std::move(*change), [shared_done] { (*shared_done)(Ok{}); },
      [shared_done](Error e) { (*shared_done)(std::move(e)); });
}

void AppStore::remove(const std::string& app, Done<Ok> done) {
  auto change = begin_change(app);
  if (!change && change.error().code == Errc::kNotFound) {
    // An unavailable app (its record failed to load) can still be deleted: the way out
    // short of repairing the row by hand.
    std::string id;
    {
      std::lock_guard lock(mu_);
      for (const auto& u : unavailable_)
        if (u.id == app || u.name == app) id = u.id;
    }
    if (id.empty()) return done(change.error());
    return records_.delete_app(id, [this, id, done = std::move(done)](Status st) {
      if (!st) return done(st.error());
      {
        std::lock_guard lock(mu_);
        std::erase_if(unavailable_, [&](const UnavailableApp& u) { return u.id == id; });
        if (m_unavailable_) m_unavailable_->set(static_cast<std::int64_t>(unavailable_.size()));
      }
      done(Ok{});
    });
  }
  if (!change) return done(change.error());
  auto shared_done = std::make_shared<Done<Ok>>(std::move(done));
  commit(
      std::move(*change), [shared_done] { (*shared_done)(Ok{}); },
      [shared_done](Error e) { (*shared_done)(std::move(e)); }, true);
}

Result<CreatedApp> AppStore::create(const AppOptions& options) {
  return wait_result<CreatedApp>([&](Done<CreatedApp> d) { create(options, std::move(d)); });
}
Result<NewSecret> AppStore::rotate_secret(const std::string& app) {
  return wait_result<NewSecret>([&](Done<NewSecret> d) { rotate_secret(app, std::move(d)); });
}
Status AppStore::revoke_secret(const std::string& app, const std::string& secret_id) {
  return wait_result<Ok>([&](Done<Ok> d) { revoke_secret(app, secret_id, std::move(d)); });
}
Status AppStore::set_status(const std::string& app, AppStatus status) {
  return wait_result<Ok>([&](Done<Ok> d) { set_status(app, status, std::move(d)); });
}
Status AppStore::remove(const std::string& app) {
  return wait_result<Ok>([&](Done<Ok> d) { remove(app, std::move(d)); });
}

std::vector<std::shared_ptr<const App>> AppStore::list() const {
  std::vector<std::shared_ptr<const App>> out;
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_)
    if (auto a = cache_.find_by_id(r.id)) out.push_back(std::move(a));
  return out;
}

std::vector<UnavailableApp> AppStore::unavailable() const {
  std::lock_guard lock(mu_);
  return unavailable_;
}

std::shared_ptr<const App> AppStore::find(std::string_view s) const {
  if (auto a = cache_.find_by_id(s)) return a;
  if (auto a = cache_.find_by_key(s)) return a;
  return find_by_name(s);
}

std::shared_ptr<const App> AppStore::find_by_name(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& r : records_cache_)
    if (r.name == name) return cache_.find_by_id(r.id);
  return nullptr;
}

}  // namespace herald::apps

// Init, unseal, the keyring and its operations. Key changes reach memory only once the
// store has them durably (except an app's own keys, whose writes are queued ahead of
// whatever is sealed with them), so memory and disk never disagree after a crash.
#include "kms/key_service.h"

#include <boost/json.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/signature.h"
#include "kms/detail/keyring.h"
#include "store/store.h"

#include <openssl/crypto.h>

namespace herald::kms {
namespace {

namespace json = boost::json;

constexpr std::string_view kMetaKey = "kms";
constexpr std::string_view kCheckPlaintext = "herald root key check v1";
// The same check, sealed once stored records must carry MACs (Sealer::macs_required):
// the setting rides on the root key, so it cannot be switched off in the database.
constexpr std::string_view kCheckPlaintextMacs = "herald root key check v2: record macs";
constexpr std::string_view kRecordMacLabel = "herald-record-mac";
constexpr std::string_view kCheckAad = "herald-kms-check";
constexpr char kAtRestFormat = '\x02';

using detail::join0;
using detail::wrap_aad;

std::string cipher_aad(std::string_view app, std::string_view name, std::uint32_t version, std::string_view ctx) {
  return join0({"herald-kms", app, name, std::to_string(version), ctx});
}

std::string share_digest(const Share& s) {
  std::string data = "herald-share";
  data.push_back('\0');
  data.push_back(static_cast<char>(s.x));
  data.append(s.bytes.view());
  return crypto::hex_encode(crypto::sha256(data));
}

}  // namespace

template <class R>
const R& KeyService::counted(Op op, const R& r) const {
  if (auto* c = m_ops_[op][r.ok() ? 0 : 1]) c->inc();
  return r;
}

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '_') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

struct KeyService::Meta {
  unsigned shares = 0;
  unsigned threshold = 0;
  std::string check;  // sealed known answer
  std::map<unsigned, std::string> digests;
  std::string json_text;
  bool macs_required = false;  // known once unsealed: which check opened
};

KeyService::KeyService(store::Store& store, metrics::Registry* registry, KeyServiceOptions opts)
    : store_(store), opts_(std::move(opts)) {
  if (registry) {
    m_secure_fallbacks_ =
        &registry
             ->counter("herald_secure_heap_fallbacks_total",
                       "Secret allocations that found the secure heap full and used the ordinary heap")
             .with({});
    if (m_secure_fallbacks_->value() == 0) m_secure_fallbacks_->inc(crypto::secure_heap_fallbacks());
    crypto::count_secure_heap_fallbacks(m_secure_fallbacks_);
    m_shares_ = &registry->counter("herald_kms_unseal_shares_total", "Unseal shares received, by outcome", {"result"});
    auto& ops = registry->counter("herald_kms_operations_total", "Key service operations, by operation and result",
                                  {"op", "result"});
    const char* names[kOps] = {"encrypt", "decrypt", "rewrap", "datakey", "seal", "open"};
    for (int i = 0; i < kOps; ++i) {
      m_ops_[i][0] = &ops.with({names[i], "ok"});
      m_ops_[i][1] = &ops.with({names[i], "error"});
    }
  }
}

// No callbacks here: what they touch may be gone already. Key material is wiped as the
// members go (SecretBytes).
KeyService::~KeyService() {
  purger_.stop();
  if (m_secure_fallbacks_) crypto::stop_counting_secure_heap_fallbacks(m_secure_fallbacks_);
}

Result<std::vector<Share>> KeyService::initialize(store::Store& store, unsigned n, unsigned k) {
  if (k < 1 || k > n || n > 255)
    return make_error(Errc::kInvalidArgument, "shares must be 1 to 255 and the threshold 1 to the number of shares");
  auto existing = store.get_meta(kMetaKey);
  if (!existing) return existing.error();
  if (existing->has_value())
    return make_error(Errc::kAlreadyInitialized, "this data directory's key service is initialised already");
  crypto::SecretBytes root = crypto::random_secret(crypto::kAeadKeyBytes);
  std::vector<Share> shares = split_secret(root, n, k);
  json::object digests;
  for (const auto& s : shares) digests[std::to_string(s.x)] = share_digest(s);
  json::object meta{{"version", 1},
                    {"shares", n},
                    {"threshold", k},
                    {"check", crypto::base64_encode(crypto::aead_seal(root, kCheckPlaintextMacs, kCheckAad))},
                    {"share_digests", std::move(digests)}};
  auto st = store::wait_for(
      [&](store::Completion done) { store.put_meta(std::string(kMetaKey), json::serialize(meta), std::move(done)); });
  if (!st) return st.error();
  return shares;
}

bool KeyService::root_matches(const std::string& meta_json, const crypto::SecretBytes& root) {
  json::error_code ec;
  auto v = json::parse(meta_json, ec);
  if (ec || !v.is_object() || !v.get_object().contains("check")) return false;
  auto check = crypto::base64_decode(std::string_view(v.get_object().at("check").as_string()));
  if (!check) return false;
  auto opened = crypto::aead_open(root, *check, kCheckAad);
  return opened && (opened->view() == kCheckPlaintext || opened->view() == kCheckPlaintextMacs);
}

Status KeyService::load() {
  auto text = store_.get_meta(kMetaKey);
  if (!text) return text.error();
  if (!text->has_value())
    return make_error(Errc::kNotInitialized, "the key service is not initialised: run `herald operator init`");
  json::error_code ec;
  auto v = json::parse(**text, ec);
  if (ec || !v.is_object()) return make_error(Errc::kStoreError, "the key service settings are corrupt");
  const auto& o = v.get_object();
  auto m = std::make_unique<Meta>();
  try {
    m->shares = static_cast<unsigned>(o.at("shares").to_number<std::int64_t>());
    m->threshold = static_cast<unsigned>(o.at("threshold").to_number<std::int64_t>());
    auto check = crypto::base64_decode(std::string_view(o.at("check").as_string()));
    if (!check) throw std::runtime_error("check");
    m->check = *check;
    for (const auto& kv : o.at("share_digests").as_object())
      m->digests[static_cast<unsigned>(std::stoul(std::string(kv.key())))] = std::string(kv.value().as_string());
  } catch (const std::exception&) {
    return make_error(Errc::kStoreError, "the key service settings are corrupt");
  }
  m->json_text = **text;
  std::unique_lock lock(mu_);
  meta_ = std::move(m);
  return ok_status();
}

KmsStatus KeyService::status() const {
  std::shared_lock lock(mu_);
  KmsStatus s;
  s.initialized = meta_ != nullptr;
  s.sealed = !root_.has_value();
  if (meta_) {
    s.threshold = meta_->threshold;
    s.shares = meta_->shares;
  }
  s.progress = static_cast<unsigned>(pending_.size());
  return s;
}

bool KeyService::sealed() const {
  std::shared_lock lock(mu_);
  return !root_.has_value();
}

Result<KmsStatus> KeyService::unseal(const Share& share) {
  auto count = [&](const char* result) {
    if (m_shares_) m_shares_->with({result}).inc();
  };
  {
    std::unique_lock lock(mu_);
    if (!meta_) return make_error(Errc::kNotInitialized, "the key service is not initialised");
    if (root_) {
      count("already_unsealed");
      return make_error(Errc::kAlreadyUnsealed, "the key service is unsealed already");
    }
    auto d = meta_->digests.find(share.x);
    if (d == meta_->digests.end() || !crypto::ct_equal(d->second, share_digest(share))) {
      count("invalid");
      return make_error(Errc::kShareInvalid, "this is not one of this installation's shares, or it was altered");
    }
    for (const auto& p : pending_)
      if (p.x == share.x) {
        count("duplicate");
        return make_error(Errc::kShareDuplicate, "share " + std::to_string(share.x) + " was given already");
      }
    pending_.push_back(Share{share.x, share.bytes});
    count("accepted");
    if (pending_.size() < meta_->threshold) {
      KmsStatus s{true, true, meta_->threshold, meta_->shares, static_cast<unsigned>(pending_.size())};
      return s;
    }
    crypto::SecretBytes root = combine_shares(pending_);
    pending_.clear();
    auto opened = crypto::aead_open(root, meta_->check, kCheckAad);
    if (!opened || (opened->view() != kCheckPlaintext && opened->view() != kCheckPlaintextMacs)) {
      count("failed");
      return make_error(Errc::kUnsealFailed, "the shares did not rebuild the root key; start over");
    }
    meta_->macs_required = opened->view() == kCheckPlaintextMacs;
    auto st = load_keyring(root);
    if (!st) {
      keys_.clear();
      return st.error();
    }
    root_ = std::move(root);
  }
  // Outside the lock: the callback decrypts app secrets through this service.
  if (on_unsealed_) {
    auto st = on_unsealed_();
    if (!st) {
      log::error("unseal_rejected", {{"error", st.error().message}});
      seal();
      return st.error();
    }
  }
  log::info("kms_unsealed");
  return status();
}

void KeyService::reset_unseal() {
  std::unique_lock lock(mu_);
  pending_.clear();
}

Status KeyService::reset_unseal(const Share& proof) {
  std::unique_lock lock(mu_);
  if (!meta_) return make_error(Errc::kNotInitialized, "the key service is not initialised");
  auto d = meta_->digests.find(proof.x);
  if (d == meta_->digests.end() || !crypto::ct_equal(d->second, share_digest(proof))) {
    if (m_shares_) m_shares_->with({"invalid"}).inc();
    return make_error(Errc::kShareInvalid, "this is not one of this installation's shares, or it was altered");
  }
  pending_.clear();
  return ok_status();
}

void KeyService::seal() {
  bool was_unsealed = false;
  {
    std::unique_lock lock(mu_);
    was_unsealed = root_.has_value();
    root_.reset();
    keys_.clear();
    pending_.clear();
    ++generation_;
  }
  if (was_unsealed) {
    if (on_sealed_) on_sealed_();
    log::info("kms_sealed");
  }
}

Status KeyService::load_keyring(const crypto::SecretBytes& root) {
  auto recs = store_.kms().load_kms_keys();
  if (!recs) return recs.error();
  auto versions = store_.kms().load_kms_versions();
  if (!versions) return versions.error();
  keys_.clear();
  ++generation_;
  for (auto& r : *recs) {
    auto k = std::make_unique<Key>();
    k->rec = r;
    keys_[KeyId{r.app_id, r.name}] = std::move(k);
  }
  for (auto& v : *versions) {
    auto it = keys_.find(KeyId{v.app_id, v.name});
    if (it == keys_.end()) continue;  // a version whose key was deleted mid-write
    auto key = crypto::aead_open(root, v.wrapped, wrap_aad(v.app_id, v.name, v.version));
    if (!key)
      return make_error(Errc::kStoreError, "key " + v.name + " version " + std::to_string(v.version) + " of " +
                                               v.app_id + " does not unwrap: the store was altered");
    it->second->material[v.version] = std::move(*key);
    it->second->created[v.version] = v.created_ms;
  }
  return ok_status();
}

const KeyService::Key* KeyService::find_locked(const std::string& app_id, const std::string& name) const {
  auto it = keys_.find(KeyId{app_id, name});
  return it == keys_.end() ? nullptr : it->second.get();
}

Result<const KeyService::Key*> KeyService::usable_locked(const std::string& app_id, const std::string& name) const {
  const Key* k = find_locked(app_id, name);
  if (!k || !valid_key_name(name)) return make_error(Errc::kKeyNotFound, "no key of this name");
  if (k->rec.delete_after_ms != 0)
    return make_error(Errc::kKeyPendingDeletion, "the key is being deleted; the admin may cancel the deletion");
  return k;
}

Result<std::string> KeyService::sign(const std::string& name, std::string_view message) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  const Key* k = find_locked(std::string(kSystemApp), name);
  if (!k || k->rec.kind != "ed25519") return make_error(Errc::kKeyNotFound, "no signing key of this name");
  auto priv = crypto::PrivateKey::from_pem(k->material.at(k->rec.latest_version).view());
  if (!priv) return priv.error();
  return priv->sign(message);
}

Result<std::string> KeyService::public_key_pem(const std::string& name) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  const Key* k = find_locked(std::string(kSystemApp), name);
  if (!k || k->rec.kind != "ed25519") return make_error(Errc::kKeyNotFound, "no signing key of this name");
  auto priv = crypto::PrivateKey::from_pem(k->material.at(k->rec.latest_version).view());
  if (!priv) return priv.error();
  return priv->public_key().to_pem();
}

Result<KeyInfo> KeyService::key_info(const std::string& app_id, const std::string& name) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  const Key* k = find_locked(app_id, name);
  if (!k || !valid_key_name(name)) return make_error(Errc::kKeyNotFound, "no key of this name");
  return k->info();
}

std::vector<KeyInfo> KeyService::list_keys(const std::string& app_id) const {
  std::shared_lock lock(mu_);
  std::vector<KeyInfo> out;
  for (const auto& [id, k] : keys_)
    if (id.first == app_id && valid_key_name(id.second)) out.push_back(k->info());
  return out;
}

Result<std::string> KeyService::encrypt(const std::string& app_id, const std::string& name, std::string_view plaintext,
                                        std::string_view context) const {
  return counted(kEncrypt, encrypt_uncounted(app_id, name, plaintext, context));
}

Result<std::string> KeyService::encrypt_uncounted(const std::string& app_id, const std::string& name,
                                                  std::string_view plaintext, std::string_view context) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  auto usable = usable_locked(app_id, name);
  if (!usable) return usable.error();
  const Key* k = *usable;
  std::uint32_t v = k->rec.latest_version;
  std::string sealed = crypto::aead_seal(k->material.at(v), plaintext, cipher_aad(app_id, name, v, context));
  return "herald:v" + std::to_string(v) + ":" + crypto::base64_encode(sealed);
}

namespace {
// "herald:v<N>:<base64>" -> (N, bytes)
Result<std::pair<std::uint32_t, std::string>> parse_ciphertext(std::string_view text) {
  constexpr std::string_view kPrefix = "herald:v";
  if (text.substr(0, kPrefix.size()) != kPrefix)
    return make_error(Errc::kInvalidCiphertext, "a ciphertext starts with herald:v<version>:");
  auto rest = text.substr(kPrefix.size());
  auto colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 10)
    return make_error(Errc::kInvalidCiphertext, "a ciphertext starts with herald:v<version>:");
  std::uint64_t v = 0;
  for (char c : rest.substr(0, colon)) {
    if (c < '0' || c > '9') return make_error(Errc::kInvalidCiphertext, "the version is a number");
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0 || v > 0xFFFFFFFFull) return make_error(Errc::kInvalidCiphertext, "the version is out of range");
  auto bytes = crypto::base64_decode(rest.substr(colon + 1));
  if (!bytes || bytes->size() < crypto::kAeadOverhead)
    return make_error(Errc::kInvalidCiphertext, "the ciphertext is not valid base64 of a sealed value");
  return std::make_pair(static_cast<std::uint32_t>(v), std::move(*bytes));
}
}  // namespace

Result<crypto::SecretBytes> KeyService::decrypt(const std::string& app_id, const std::string& name,
                                                std::string_view ciphertext, std::string_view context) const {
  return counted(kDecrypt, decrypt_uncounted(app_id, name, ciphertext, context));
}

Result<crypto::SecretBytes> KeyService::decrypt_uncounted(const std::string& app_id, const std::string& name,
                                                          std::string_view ciphertext, std::string_view context) const {
  auto parsed = parse_ciphertext(ciphertext);
  if (!parsed) return parsed.error();
  auto [v, bytes] = std::move(*parsed);
  for (bool refreshed = false;; refreshed = true) {
    std::shared_lock lock(mu_);
    if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
    auto usable = usable_locked(app_id, name);
    // A key or a version this node does not hold may have been made on another node a
    // moment ago (a ciphertext made there right after a rotation): one look at the store.
    bool newer = usable && v > (*usable)->rec.latest_version && v <= opts_.max_versions_per_key;
    if (!refreshed && ((!usable && usable.error().code == Errc::kKeyNotFound) || newer)) {
      lock.unlock();
      if (refresh_from_store(app_id)) continue;
      lock.lock();
      usable = usable_locked(app_id, name);
    }
    if (!usable) return usable.error();
    const Key* k = *usable;
    if (v < k->rec.min_decryption_version || v > k->rec.latest_version)
      return make_error(Errc::kVersionNotAllowed, "version " + std::to_string(v) + " may not be decrypted (allowed: " +
                                                      std::to_string(k->rec.min_decryption_version) + " to " +
                                                      std::to_string(k->rec.latest_version) + ")");
    return crypto::aead_open(k->material.at(v), bytes, cipher_aad(app_id, name, v, context));
  }
}

Result<std::string> KeyService::rewrap(const std::string& app_id, const std::string& name, std::string_view ciphertext,
                                       std::string_view context) const {
  auto plain = decrypt_uncounted(app_id, name, ciphertext, context);
  if (!plain) return counted(kRewrap, Result<std::string>(plain.error()));
  return counted(kRewrap, encrypt_uncounted(app_id, name, plain->view(), context));
}

Result<DataKey> KeyService::datakey(const std::string& app_id, const std::string& name, std::size_t bytes,
                                    bool with_plaintext, std::string_view context) const {
  if (bytes != 16 && bytes != 32 && bytes != 64)
    return counted(kDatakey, Result<DataKey>(make_error(Errc::kInvalidArgument, "a data key is 128, 256 or 512 bits")));
  crypto::SecretBytes key = crypto::random_secret(bytes);
  auto ct = encrypt_uncounted(app_id, name, key.view(), context);
  if (!ct) return counted(kDatakey, Result<DataKey>(ct.error()));
  DataKey out{std::move(*ct), std::nullopt};
  if (with_plaintext) out.plaintext = std::move(key);
  return counted(kDatakey, Result<DataKey>(std::move(out)));
}

Result<std::vector<std::pair<std::uint32_t, crypto::SecretBytes>>> KeyService::export_key(
    const std::string& app_id, const std::string& name) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  auto usable = usable_locked(app_id, name);
  if (!usable) return usable.error();
  const Key* k = *usable;
  if (!k->rec.exportable) return make_error(Errc::kKeyNotExportable, "the key was not made exportable");
  std::vector<std::pair<std::uint32_t, crypto::SecretBytes>> out;
  for (const auto& [v, m] : k->material) out.emplace_back(v, m);
  return out;
}

Result<std::string> KeyService::blind_index(const std::string& app_id, std::string_view purpose,
                                            std::string_view value) const {
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  const Key* k = find_locked(app_id, "_index");
  if (!k) return make_error(Errc::kKeyNotFound, "the app has no index key");
  // Version 1 always: an index must give the same answer for the same value forever.
  std::string data(purpose);
  data.push_back('\0');
  data.append(value);
  return crypto::hex_encode(crypto::hmac_sha256(k->material.at(1).view(), data));
}

Result<std::string> KeyService::seal(std::string_view app_id, std::string_view plaintext, std::string_view associated) {
  return counted(kSeal, seal_uncounted(app_id, plaintext, associated));
}

Result<std::string> KeyService::seal_uncounted(std::string_view app_id, std::string_view plaintext,
                                               std::string_view associated) {
  std::string app(app_id);
  {
    std::shared_lock lock(mu_);
    if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
    if (!find_locked(app, "_data")) {
      lock.unlock();
      // Another node may have made them (the app was created there): look first.
      (void)refresh_from_store(app);
      // An app without keys (one made before apps had them, or whose key write failed):
      // make them and wait until they are durable. AppStore::create makes them ahead.
      if (auto st = ensure_app_keys(app); !st) return st.error();
    }
  }
  std::shared_lock lock(mu_);
  const Key* k = find_locked(app, "_data");
  if (!k) return make_error(Errc::kSealed, "the key service was sealed meanwhile");
  std::uint32_t v = k->rec.latest_version;
  std::string out(1, kAtRestFormat);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  out += crypto::aead_seal(k->material.at(v), plaintext, join0({"herald-at-rest", app_id, associated}));
  return out;
}

Result<crypto::SecretBytes> KeyService::open(std::string_view app_id, std::string_view sealed,
                                             std::string_view associated) {
  return counted(kOpen, open_uncounted(app_id, sealed, associated));
}

Result<crypto::SecretBytes> KeyService::open_uncounted(std::string_view app_id, std::string_view sealed,
                                                       std::string_view associated) {
  if (sealed.size() < 5 || sealed[0] != kAtRestFormat)
    return make_error(Errc::kDecryptFailed, "the sealed value has an unknown format");
  std::uint32_t v = 0;
  for (int i = 1; i <= 4; ++i) v = (v << 8) | static_cast<unsigned char>(sealed[static_cast<std::size_t>(i)]);
  for (bool refreshed = false;; refreshed = true) {
    std::shared_lock lock(mu_);
    if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
    const Key* k = find_locked(std::string(app_id), "_data");
    if (!k || !k->material.count(v)) {
      // Sealed on another node under a key or version made there a moment ago.
      lock.unlock();
      if (!refreshed && refresh_from_store(std::string(app_id))) continue;
      if (!k) return make_error(Errc::kDecryptFailed, "the app has no at-rest key");
      return make_error(Errc::kDecryptFailed, "the at-rest key version is unknown");
    }
    return crypto::aead_open(k->material.at(v), sealed.substr(5), join0({"herald-at-rest", app_id, associated}));
  }
}

void KeyService::prepare(std::string_view app_id, std::function<void(Status)> done) {
  ensure_app_keys(std::string(app_id), std::move(done));
}

Result<std::string> KeyService::mac(std::string_view app_id, std::string_view purpose, std::string_view data) {
  {
    std::shared_lock lock(mu_);
    bool held = !root_ || find_locked(std::string(app_id), "_data");
    lock.unlock();
    // An app made on another node a moment ago: its keys are in the store.
    if (!held) (void)refresh_from_store(std::string(app_id));
  }
  std::shared_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
  const Key* k = find_locked(std::string(app_id), "_data");
  if (!k || k->material.empty()) return make_error(Errc::kDecryptFailed, "the app has no at-rest key");
  // Its own key per purpose, never the encryption key itself.
  auto key = crypto::hmac_sha256(k->material.begin()->second.view(), join0({kRecordMacLabel, app_id, purpose}));
  std::string tag = crypto::hex_encode(crypto::hmac_sha256(key, data));
  OPENSSL_cleanse(key.data(), key.size());
  return tag;
}

bool KeyService::macs_required() {
  std::shared_lock lock(mu_);
  return meta_ && meta_->macs_required;
}

Status KeyService::require_macs() {
  std::string text;
  {
    std::shared_lock lock(mu_);
    if (!root_ || !meta_) return make_error(Errc::kSealed, "the key service is sealed");
    if (meta_->macs_required) return ok_status();
    json::error_code ec;
    auto v = json::parse(meta_->json_text, ec);
    if (ec || !v.is_object()) return make_error(Errc::kStoreError, "the key service settings are corrupt");
    v.get_object()["check"] = crypto::base64_encode(crypto::aead_seal(*root_, kCheckPlaintextMacs, kCheckAad));
    text = json::serialize(v);
  }
  if (store::on_store_thread()) return make_error(Errc::kInternal, "require_macs cannot wait on a store thread");
  auto st = store::wait_for([&](store::Completion d) { store_.put_meta(std::string(kMetaKey), text, std::move(d)); });
  if (!st) return st;
  std::unique_lock lock(mu_);
  if (meta_) {
    meta_->json_text = std::move(text);
    meta_->macs_required = true;
  }
  log::info("kms_record_macs_required");
  return ok_status();
}

}  // namespace herald::kms

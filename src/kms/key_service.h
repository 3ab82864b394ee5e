// The key management service. A 256-bit root key, split with Shamir's scheme at init
// and never written anywhere, exists only in memory between unseal and seal. It wraps
// the keyring: named, versioned keys per app (and the service's own), generated here and
// stored only wrapped. Through it: the key API (encrypt, decrypt, rewrap, data keys,
// rotation) and the encryption at rest of everything sensitive (Sealer).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/periodic_thread.h"
#include "core/result.h"
#include "crypto/secret.h"
#include "kms/sealer.h"
#include "kms/shamir.h"

#include "store/kms_records.h"

namespace herald::store {
class Store;
}
namespace herald::metrics {
class Registry;
class Counter;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::kms {

struct KmsStatus {
  bool initialized = false;
  bool sealed = true;
  unsigned threshold = 0;
  unsigned shares = 0;
  unsigned progress = 0;  // distinct valid shares given towards the next unseal
};

struct KeyVersionInfo {
  std::uint32_t version = 0;
  std::int64_t created_ms = 0;
};

struct KeyInfo {
  std::string name;
  std::string kind;
  std::uint32_t latest_version = 0;
  std::uint32_t min_decryption_version = 1;
  bool exportable = false;
  bool deletion_allowed = false;
  std::int64_t created_ms = 0;
  std::int64_t delete_after_ms = 0;  // 0: live; else deleted for good at this time, unusable until then
  std::vector<KeyVersionInfo> versions;
};

struct KeyOptions {
  bool exportable = false;
};

// Who asks for a key change. `exportable` and `deletion_allowed` guard the app's keys
// against a stolen AppSecret, so only the admin token changes them.
enum class Actor { App, Admin };

struct KeyConfig {
  std::optional<std::uint32_t> min_decryption_version;
  std::optional<bool> deletion_allowed;  // admin only
  std::optional<bool> exportable;        // admin only; may only go from false to true
};

// Per-app bounds (kms.* config keys): one app cannot fill the store, the unseal, or the
// secure heap, where every version of every key lives unwrapped while unsealed.
struct KeyServiceOptions {
  std::uint32_t max_keys_per_app = 100;
  std::uint32_t max_versions_per_key = 100;
  std::uint32_t max_versions_per_app = 1000;
  std::int64_t deletion_delay_ms = 7LL * 86'400'000;  // 0: a delete takes effect at once
  Clock clock;                                        // creation and deletion times
};

struct DataKey {
  std::string ciphertext;  // the data key wrapped under the named key
  std::optional<crypto::SecretBytes> plaintext;
};

// Key names a caller may use: 1..64 of [a-z0-9_.-], not starting with '_' (reserved for
// the service's own keys, such as each app's at-rest key "_data").
bool valid_key_name(std::string_view name);

class KeyService final : public Sealer {
 public:
  static constexpr std::string_view kSystemApp = "_system";

  KeyService(store::Store& store, metrics::Registry* registry, KeyServiceOptions opts = {});
  ~KeyService() override;

  // Offline, on a data dir whose store has no key service yet: makes the root key,
  // splits it into `n` shares of which `k` unseal, and stores only a check value and
  // each share's digest. Error "already_initialized".
  static Result<std::vector<Share>> initialize(store::Store& store, unsigned n, unsigned k);

  // Reads the service's settings; "not_initialized" if initialize() never ran here.
  Status load();
  KmsStatus status() const;
  bool sealed() const;

  // One share towards the unseal. Errors: "share_invalid" (not one of this installation's
  // shares, or altered), "share_duplicate", "already_unsealed", "unseal_failed" (the
  // shares did not rebuild the root key; progress starts over), "not_initialized".
  Result<KmsStatus> unseal(const Share& share);
  // Forgets the shares given so far. The caller proves the right to: reset_unseal() is
  // for the admin token's holder, the other for whoever shows one of this installation's
  // shares (any, given before or not); else anyone could keep the server sealed.
  void reset_unseal();
  Status reset_unseal(const Share& proof);
  // Forgets the root key and every unwrapped key.
  void seal();
  // Called after every unseal and seal (on the caller's thread); one of each.
  void on_unsealed(std::function<Status()> fn) { on_unsealed_ = std::move(fn); }
  void on_sealed(std::function<void()> fn) { on_sealed_ = std::move(fn); }

  // Keyring. Errors: "sealed", "key_not_found", "key_exists", "invalid_argument",
  // "key_not_exportable", "deletion_not_allowed", "version_not_allowed" (below the
  // minimum or above the latest), "decrypt_failed", "invalid_ciphertext",
  // "key_pending_deletion" (the key is a tombstone), "kms_quota_exceeded",
  // "admin_required" (an app changing exportable or deletion_allowed).
  // Changes to one key run one at a time, each from its read of the key to the end of its
  // write, and write only the fields they change: what a restart reads is what was last
  // acknowledged.
  void create_key(const std::string& app_id, const std::string& name, KeyOptions opts, Done<KeyInfo> done);
  void rotate_key(const std::string& app_id, const std::string& name, Done<KeyInfo> done);
  void configure_key(const std::string& app_id, const std::string& name, KeyConfig cfg, Actor actor,
                     Done<KeyInfo> done);
  // Needs deletion_allowed. Makes the key a tombstone for kms.deletion_delay (unusable, and
  // the admin may cancel), after which purge_deleted_keys() deletes it for good.
  void delete_key(const std::string& app_id, const std::string& name, Done<KeyInfo> done);
  // Admin: the key is live again. "conflict" if no deletion is pending.
  void cancel_deletion(const std::string& app_id, const std::string& name, Done<KeyInfo> done);
  // Deletes every tombstone whose time has come; `done` (optional) gets how many.
  void purge_deleted_keys(std::function<void(std::size_t)> done = {});
  // Runs purge_deleted_keys every `interval` until stop_purger() (or destruction).
  void start_purger(std::chrono::milliseconds interval);
  void stop_purger();
  // Reads app `app_id`'s keys (empty: every key) from the store again, as another node
  // left them: new keys and versions, changed settings, deleted keys. A change of this
  // node's that lands meanwhile is not undone (the read is made again). "sealed" while
  // sealed. Safe from any thread but a store thread.
  Status reload_keys(const std::string& app_id = {});
  Result<KeyInfo> key_info(const std::string& app_id, const std::string& name) const;
  std::vector<KeyInfo> list_keys(const std::string& app_id) const;

  // Ciphertext: "herald:v<version>:<base64 of nonce | ciphertext | tag>", bound to the app,
  // the key name, the version and `context` (associated data the caller chooses).
  Result<std::string> encrypt(const std::string& app_id, const std::string& name, std::string_view plaintext,
                              std::string_view context) const;
  Result<crypto::SecretBytes> decrypt(const std::string& app_id, const std::string& name, std::string_view ciphertext,
                                      std::string_view context) const;
  // Decrypts and encrypts again under the latest version; the plaintext never leaves.
  Result<std::string> rewrap(const std::string& app_id, const std::string& name, std::string_view ciphertext,
                             std::string_view context) const;
  Result<DataKey> datakey(const std::string& app_id, const std::string& name, std::size_t bytes, bool with_plaintext,
                          std::string_view context) const;
  // Every version's key material, for an exportable key.
  Result<std::vector<std::pair<std::uint32_t, crypto::SecretBytes>>> export_key(const std::string& app_id,
                                                                                const std::string& name) const;
  // Creates an app's own keys ("default" for the key API, "_data" at rest, "_index" for
  // blind indexes) if missing. They are usable only once durable, and `done` hears only
  // then (or the store's error): nothing is ever sealed under a key the store lost.
  void ensure_app_keys(const std::string& app_id, store::Completion done);
  // The same, waiting; "internal" on a store callback thread, where waiting would deadlock.
  Status ensure_app_keys(const std::string& app_id);

  // The service's own Ed25519 signing key `name` (for audit checkpoints), made on first
  // use; its public key may be shown to anyone.
  Status ensure_signing_key(const std::string& name);
  Result<std::string> sign(const std::string& name, std::string_view message) const;
  Result<std::string> public_key_pem(const std::string& name) const;

  // A keyed hash of `value` for lookups without plaintext (phone numbers, e-mail).
  Result<std::string> blind_index(const std::string& app_id, std::string_view purpose, std::string_view value) const;

  // Sealer: at-rest encryption under the app's "_data" key, bound to `associated`.
  Result<std::string> seal(std::string_view app_id, std::string_view plaintext, std::string_view associated) override;
  Result<crypto::SecretBytes> open(std::string_view app_id, std::string_view sealed,
                                   std::string_view associated) override;
  void prepare(std::string_view app_id, std::function<void(Status)> done) override;
  Result<std::string> mac(std::string_view app_id, std::string_view purpose, std::string_view data) override;
  bool macs_required() override;
  Status require_macs() override;

  // For tests and `herald operator`: whether `root` is this installation's root key.
  static bool root_matches(const std::string& meta_json, const crypto::SecretBytes& root);

 private:
  struct Key;
  struct Meta;
  using KeyId = std::pair<std::string, std::string>;
  using Finish = std::function<void()>;
  using Mutation = std::function<void(Finish)>;
  struct Pending {  // keys and versions of an app whose writes are under way (quotas)
    std::uint32_t keys = 0;
    std::uint32_t versions = 0;
  };
  struct AppKeysWrite;

  Status load_keyring(const crypto::SecretBytes& root);
  Result<std::string> seal_uncounted(std::string_view app_id, std::string_view plaintext, std::string_view associated);
  Result<crypto::SecretBytes> open_uncounted(std::string_view app_id, std::string_view sealed,
                                             std::string_view associated);
  Result<std::string> encrypt_uncounted(const std::string& app_id, const std::string& name, std::string_view plaintext,
                                        std::string_view context) const;
  Result<crypto::SecretBytes> decrypt_uncounted(const std::string& app_id, const std::string& name,
                                                std::string_view ciphertext, std::string_view context) const;
  // A new key's record and first version (wrapped under the root key). Lock held.
  std::unique_ptr<Key> new_key_locked(const std::string& app_id, const std::string& name, std::string kind,
                                      bool exportable, crypto::SecretBytes material, store::KmsVersionRecord& first);
  const Key* find_locked(const std::string& app_id, const std::string& name) const;
  // The key for use through the API: not found, or a tombstone, is an error. Lock held.
  Result<const Key*> usable_locked(const std::string& app_id, const std::string& name) const;
  // Versions of the app's keys, held and being written. Lock held.
  std::uint32_t app_versions_locked(const std::string& app_id) const;
  std::uint32_t app_keys_locked(const std::string& app_id) const;
  // Runs `m` once every earlier change to the same key has finished (its Finish called).
  void serialised(const KeyId& id, Mutation m);
  void run_changes(const KeyId& id);
  void app_keys_written(const std::shared_ptr<AppKeysWrite>& w);
  // A use found a key or version of `app_id` it does not hold, which another node may
  // have made a moment ago: one reload of the app's keys, at most one per app per
  // kRefreshSpacing after one that found nothing (a caller naming versions that do not
  // exist cannot load the store). True if the reload changed what is held.
  bool refresh_from_store(const std::string& app_id) const;
  // reload_keys, telling whether anything held changed.
  Status reload_keys(const std::string& app_id, bool& changed);

  store::Store& store_;
  KeyServiceOptions opts_;
  std::unique_ptr<Meta> meta_;
  mutable std::shared_mutex mu_;
  std::optional<crypto::SecretBytes> root_;
  std::map<KeyId, std::unique_ptr<Key>> keys_;
  std::map<std::string, Pending> pending_writes_;                        // under mu_
  std::map<std::string, std::shared_ptr<AppKeysWrite>> app_key_writes_;  // under mu_
  std::mutex changes_mu_;
  std::map<KeyId, std::deque<Mutation>> changes_;  // front: the change under way
  std::uint64_t generation_ = 0;                   // under mu_: moves with every change to keys_
  std::mutex reload_mu_;                           // one reload_keys at a time
  mutable std::mutex refresh_mu_;
  mutable std::map<std::string, std::chrono::steady_clock::time_point> last_refresh_;  // under refresh_mu_
  std::vector<Share> pending_;  // shares given towards the next unseal
  std::function<Status()> on_unsealed_;
  std::function<void()> on_sealed_;
  PeriodicThread purger_;
  metrics::Family<metrics::Counter>* m_shares_ = nullptr;
  metrics::Counter* m_secure_fallbacks_ = nullptr;
  // herald_kms_operations_total children, resolved once: [op][0 = ok, 1 = error].
  enum Op { kEncrypt, kDecrypt, kRewrap, kDatakey, kSeal, kOpen, kOps };
  metrics::Counter* m_ops_[kOps][2] = {};
  template <class R>
  const R& counted(Op op, const R& r) const;
};

}  // namespace herald::kms

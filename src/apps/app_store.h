// The apps of this installation: kept in the store (secrets sealed), served from memory.
// Changes are written first and take effect in memory once durable; they complete
// through a callback (which may run on the store's writer thread), with blocking
// wrappers for the CLI.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "apps/memory_directory.h"
#include "kms/sealer.h"
#include "store/app_records.h"

namespace herald::metrics {
class Registry;
class Counter;
class Gauge;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::apps {

// What a new app is created with.
struct AppOptions {
  std::string name;
  std::vector<std::string> client_public_keys_pem;  // Ed25519 or P-256 "PUBLIC KEY" PEM, for EdDSA / ES256 tokens
  std::string jwt_audience;
  std::string jwt_issuer;
  bool require_exp = true;
  unsigned scopes = kScopePublish;
  std::vector<std::string> namespaces{"*"};
  std::vector<std::string> allowed_cidrs;
  std::uint32_t rate_limit = 1000;  // server-API requests per second; 0 = no cap
  bool hs256_client_secret = true;  // false: client JWTs only with the public keys (ES256/EdDSA)
};

// A new app's secrets, shown once: the store keeps them only sealed.
struct CreatedApp {
  std::shared_ptr<const App> app;
  std::string app_secret_id;
  crypto::SecretBytes app_secret;     // HMAC key of signed server-API requests
  crypto::SecretBytes client_secret;  // HS256 key of client JWTs (its UTF-8 bytes are the key); empty if none
};

// An app whose stored record did not load: its MAC does not verify (the row was edited
// outside Herald) or it does not parse or open. It serves nothing; the others do.
struct UnavailableApp {
  std::string id;
  std::string name;
  std::string reason;  // "mac_mismatch", "mac_missing" or "unreadable"
};

struct NewSecret {
  std::string id;
  crypto::SecretBytes secret;
};

// A change to an app's client-JWT policy; unset fields stay as they are.
struct JwtPolicyChange {
  std::optional<std::string> audience;
  std::optional<std::string> issuer;
  std::optional<bool> require_exp;
  std::optional<std::int64_t> max_token_lifetime_s;  // 0: the server's push.max_token_lifetime
  std::optional<std::int64_t> tokens_issued_after;   // Unix seconds; 0 clears the cut-off
};

// What a reload found changed in an app that its live connections must hear of.
struct AppReloaded {
  std::string id;
  bool disabled = false;        // suspended, deleted, or its record no longer loads
  bool tokens_revoked = false;  // a client key went, or tokens_issued_after moved on
};

class AppStore final : public AppDirectory {
 public:
  AppStore(store::AppRecords& records, kms::Sealer& sealer, metrics::Registry* registry = nullptr);

  // Reads every app into memory. An app whose record fails its MAC or does not load is
  // left out (logged, counted, listed by unavailable()); the others load. Fails only if
  // the store cannot be read. On an installation from before record MACs, the first load
  // MACs the existing records (trusting them as they are, logged) and then requires MACs.
  Status load();
  // Forgets every app (and its unsealed secrets), as when the key service seals.
  void unload();
  // Reads app `id` (empty: every app) from the store again, as another node left it, and
  // swaps it in: new, changed, suspended and deleted apps take effect at once. A change of
  // this node's that lands meanwhile is not undone (the read is made again). Answers what
  // the app's live connections must hear of.
  Result<std::vector<AppReloaded>> reload(const std::string& id = {});

  // Error codes: "invalid_argument" (bad name, key, CIDR, scope, namespace), "conflict"
  // (name taken, or another change to the same app under way), "not_found",
  // "too_many_secrets" (rotate with two active), "last_secret" (revoke the only one).
  void create(AppOptions options, Done<CreatedApp> done);
  void rotate_secret(const std::string& app, Done<NewSecret> done);
  void revoke_secret(const std::string& app, const std::string& secret_id, Done<Ok> done);
  void set_status(const std::string& app, AppStatus status, Done<Ok> done);
  void remove(const std::string& app, Done<Ok> done);

  // Client keys and policy (apps/app_client_auth.cpp). Up to two HS256 client secrets and
  // two public keys are active at once; revoking the app's last client key is
  // "last_secret"; a public key needs the app to have an audience ("invalid_argument").
  void rotate_client_secret(const std::string& app, Done<NewSecret> done);
  void revoke_client_secret(const std::string& app, const std::string& secret_id, Done<Ok> done);
  // Answers the new key's kid.
  void add_client_key(const std::string& app, const std::string& pem, Done<std::string> done);
  void remove_client_key(const std::string& app, const std::string& kid, Done<Ok> done);
  void set_jwt_policy(const std::string& app, JwtPolicyChange change, Done<Ok> done);

  // Blocking forms, for the CLI and start-up (never on an I/O thread).
  Result<CreatedApp> create(const AppOptions& options);
  Result<NewSecret> rotate_secret(const std::string& app);
  Status revoke_secret(const std::string& app, const std::string& secret_id);
  Status set_status(const std::string& app, AppStatus status);
  Status remove(const std::string& app);

  std::vector<std::shared_ptr<const App>> list() const;
  std::vector<UnavailableApp> unavailable() const;
  // By id, AppKey or name.
  std::shared_ptr<const App> find(std::string_view id_key_or_name) const;
  std::shared_ptr<const App> find_by_name(std::string_view name) const;
  // The app's newest client secret, unsealed (for the development banner and `herald token`).
  Result<crypto::SecretBytes> client_secret(const App& app);

  std::shared_ptr<const App> find_by_key(std::string_view key) const override { return cache_.find_by_key(key); }
  std::shared_ptr<const App> find_by_id(std::string_view id) const override { return cache_.find_by_id(id); }

 private:
  // A change under way to one app: while it lives the app is busy (another change to it
  // gets "conflict"). Destroying it ends the change, so no way out of a change, early
  // returns included, can leave the app busy.
  class Change {
   public:
    Change(AppStore& apps, store::AppRecord rec) : record(std::move(rec)), apps_(&apps) {}
    Change(Change&& other) noexcept : record(std::move(other.record)), apps_(std::exchange(other.apps_, nullptr)) {}
    Change& operator=(Change&&) = delete;
    ~Change() { finish(); }
    // Ends the change now (idempotent).
    void finish();

    store::AppRecord record;  // the copy being changed, written by commit()

   private:
    AppStore* apps_;
  };

  struct ClientAuthDoc;
  Result<App> from_record(const store::AppRecord& r);
  // The record as load() finds it: the app, or why it is unavailable.
  Result<App> load_record(store::AppRecord& r, bool macs_required, std::vector<store::AppRecord>& to_mac);
  // Gives records from before record MACs theirs, waits until durable, then requires MACs.
  Status add_missing_macs(const std::vector<store::AppRecord>& to_mac);
  // The second half of create(), once the app's keys are durable.
  void create_with_keys(store::AppRecord r, bool hs256_client_secret, Done<CreatedApp> done);
  // The client keys and JWT policy of the record into `app` (apps/app_client_auth.cpp).
  Status load_client_auth(const store::AppRecord& r, App& app);
  // Runs `edit(record, doc)` on the app's client-auth document within a change and
  // commits it; `done` gets edit's answer once the write is durable.
  template <class T, class Edit>
  void change_client_auth(const std::string& app, Done<T> done, Edit edit);
  // Finds the record and marks the app busy; "conflict" if a change is under way.
  Result<Change> begin_change(const std::string& app);
  void end_change(const std::string& id);
  // Writes the change's record; once durable, updates the caches, ends the change and
  // calls `then`, else ends it and calls `fail`.
  void commit(Change change, std::function<void()> then, std::function<void(Error)> fail, bool is_delete = false);
  // Puts a durable write into the caches.
  Status apply(const store::AppRecord& r, bool is_delete);
  // The app of a record read back from the store: its MAC checked, its secrets opened.
  Result<App> reloaded_app(const store::AppRecord& r);
  // Swaps reloaded apps into the caches. mu_ held.
  void swap_in_locked(std::vector<std::pair<store::AppRecord, App>>& changed, std::vector<UnavailableApp>& bad,
                      const std::vector<std::string>& gone, std::vector<AppReloaded>& events);
  Result<std::string> seal_secret(const std::string& app_id, const std::string& secret_id, std::string_view secret);

  store::AppRecords& records_;
  kms::Sealer& sealer_;
  MemoryAppDirectory cache_;
  mutable std::mutex mu_;
  std::vector<store::AppRecord> records_cache_;
  std::set<std::string> busy_;                   // app ids with a change under way
  std::map<std::string, std::string> creating_;  // id -> name of apps being created
  std::vector<UnavailableApp> unavailable_;      // under mu_
  std::uint64_t generation_ = 0;                 // under mu_: moves with every change to the caches
  std::mutex reload_mu_;                         // one load() or reload() at a time
  metrics::Family<metrics::Counter>* m_rejected_ = nullptr;
  metrics::Gauge* m_unavailable_ = nullptr;
};

bool valid_app_name(std::string_view name);

}  // namespace herald::apps

// Changes to the keyring: creating, rotating, configuring and deleting keys, and an app's
// own keys. A change reaches memory only once the store has it durably, and the changes
// to one key run one at a time, so memory, disk and what callers were told agree.
#include <future>

#include "core/log.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "crypto/signature.h"
#include "kms/detail/keyring.h"
#include "store/store.h"

#include <openssl/crypto.h>

namespace herald::kms {
namespace {

constexpr const char* kAppKeys[] = {"default", "_data", "_index"};

Error sealed_error() {
  return make_error(Errc::kSealed, "the key service is sealed");
}

// What a settings change is decided on: the store writes it only while the key still
// has these (another node may have changed it since this node read it).
store::KmsKeySettings settings_of(const store::KmsKeyRecord& r) {
  return store::KmsKeySettings{r.min_decryption_version, r.exportable, r.deletion_allowed, r.delete_after_ms};
}

}  // namespace

// ---- one change at a time per key ----

void KeyService::serialised(const KeyId& id, Mutation m) {
  {
    std::lock_guard lock(changes_mu_);
    auto& q = changes_[id];
    q.push_back(std::move(m));
    if (q.size() > 1) return;  // runs when the change ahead of it finishes
  }
  run_changes(id);
}

// Runs the change at the front of the key's queue, and the next ones as they finish. A
// change that finishes before it returns (an early refusal) continues the loop here; one
// that finishes later (from a store completion) continues it from there.
void KeyService::run_changes(const KeyId& id) {
  for (;;) {
    Mutation m;
    {
      std::lock_guard lock(changes_mu_);
      m = changes_.at(id).front();
    }
    // 0: running; 1: finished before returning, with more queued; 2: returned.
    auto state = std::make_shared<std::atomic<int>>(0);
    m([this, id, state] {
      {
        std::lock_guard lock(changes_mu_);
        auto it = changes_.find(id);
        it->second.pop_front();
        if (it->second.empty()) {
          changes_.erase(it);
          return;
        }
      }
      if (state->exchange(1) == 2) run_changes(id);
    });
    if (state->exchange(2) != 1) return;
  }
}

// ---- quotas ----

std::uint32_t KeyService::app_keys_locked(const std::string& app_id) const {
  std::uint32_t n = 0;
  for (auto it = keys_.lower_bound(KeyId{app_id, ""}); it != keys_.end() && it->first.first == app_id; ++it)
    if (valid_key_name(it->first.second)) ++n;
  auto p = pending_writes_.find(app_id);
  return n + (p == pending_writes_.end() ? 0 : p->second.keys);
}

std::uint32_t KeyService::app_versions_locked(const std::string& app_id) const {
  std::uint32_t n = 0;
  for (auto it = keys_.lower_bound(KeyId{app_id, ""}); it != keys_.end() && it->first.first == app_id; ++it)
    if (valid_key_name(it->first.second)) n += static_cast<std::uint32_t>(it->second->material.size());
  auto p = pending_writes_.find(app_id);
  return n + (p == pending_writes_.end() ? 0 : p->second.versions);
}

// ---- the key API ----

std::unique_ptr<KeyService::Key> KeyService::new_key_locked(const std::string& app_id, const std::string& name,
                                                            std::string kind, bool exportable,
                                                            crypto::SecretBytes material,
                                                            store::KmsVersionRecord& first) {
  std::int64_t now = now_ms(opts_.clock);
  auto k = std::make_unique<Key>();
  k->rec = store::KmsKeyRecord{app_id, name, std::move(kind), 1, 1, exportable, false, now, 0};
  first = store::KmsVersionRecord{app_id, name, 1,
                                  crypto::aead_seal(*root_, material.view(), detail::wrap_aad(app_id, name, 1)), now};
  k->material[1] = std::move(material);
  k->created[1] = now;
  return k;
}

void KeyService::create_key(const std::string& app_id, const std::string& name, KeyOptions opts, Done<KeyInfo> done) {
  if (!valid_key_name(name))
    return done(make_error(Errc::kInvalidArgument, "a key name is 1 to 64 of a-z 0-9 _ . - and does not start with _"));
  serialised({app_id, name}, [this, app_id, name, opts, done = std::move(done)](Finish finish) {
    auto reply = [done, finish](Result<KeyInfo> r) {
      finish();  // first: once the caller hears, it may destroy the service
      done(std::move(r));
    };
    std::shared_ptr<Key> k;
    store::KmsVersionRecord first;
    {
      std::unique_lock lock(mu_);
      if (!root_) return reply(sealed_error());
      if (find_locked(app_id, name)) return reply(make_error(Errc::kKeyExists, "a key of this name exists"));
      if (app_keys_locked(app_id) >= opts_.max_keys_per_app)
        return reply(make_error(Errc::kKmsQuotaExceeded, "the app has kms.max_keys_per_app keys already"));
      if (app_versions_locked(app_id) >= opts_.max_versions_per_app)
        return reply(make_error(Errc::kKmsQuotaExceeded, "the app's keys have kms.max_versions_per_app versions"));
      k = new_key_locked(app_id, name, std::string(detail::kAes), opts.exportable,
                         crypto::random_secret(crypto::kAeadKeyBytes), first);
      auto& p = pending_writes_[app_id];
      ++p.keys;
      ++p.versions;
    }
    store_.kms().insert_kms_key(k->rec, std::move(first), [this, k, reply](Status st) {
      std::unique_lock lock(mu_);
      auto& p = pending_writes_[k->rec.app_id];
      --p.keys;
      --p.versions;
      if (!st) {
        lock.unlock();
        return reply(st.error().code == Errc::kConflict ? make_error(Errc::kKeyExists, "a key of this name exists")
                                                        : st.error());
      }
      if (!root_) {
        lock.unlock();
        return reply(make_error(Errc::kSealed, "the key service was sealed meanwhile"));
      }
      auto& slot = keys_[KeyId{k->rec.app_id, k->rec.name}];
      slot = std::make_unique<Key>(std::move(*k));
      ++generation_;
      KeyInfo info = slot->info();
      lock.unlock();
      reply(std::move(info));
    });
  });
}

void KeyService::rotate_key(const std::string& app_id, const std::string& name, Done<KeyInfo> done) {
  serialised({app_id, name}, [this, app_id, name, done = std::move(done)](Finish finish) {
    auto reply = [done, finish](Result<KeyInfo> r) {
      finish();  // first: once the caller hears, it may destroy the service
      done(std::move(r));
    };
    auto material = std::make_shared<crypto::SecretBytes>(crypto::random_secret(crypto::kAeadKeyBytes));
    store::KmsVersionRecord v;
    {
      std::unique_lock lock(mu_);
      if (!root_) return reply(sealed_error());
      auto k = usable_locked(app_id, name);
      if (!k) return reply(k.error());
      if ((*k)->rec.latest_version >= opts_.max_versions_per_key)
        return reply(make_error(Errc::kKmsQuotaExceeded, "the key has kms.max_versions_per_key versions"));
      if (app_versions_locked(app_id) >= opts_.max_versions_per_app)
        return reply(make_error(Errc::kKmsQuotaExceeded, "the app's keys have kms.max_versions_per_app versions"));
      std::uint32_t next = (*k)->rec.latest_version + 1;
      v = store::KmsVersionRecord{app_id, name, next,
                                  crypto::aead_seal(*root_, material->view(), detail::wrap_aad(app_id, name, next)),
                                  now_ms(opts_.clock)};
      ++pending_writes_[app_id].versions;
    }
    std::uint32_t version = v.version;
    std::int64_t created = v.created_ms;
    store_.kms().add_kms_version(std::move(v), [this, app_id, name, version, created, material, reply](Status st) {
      std::unique_lock lock(mu_);
      --pending_writes_[app_id].versions;
      auto it = keys_.find(KeyId{app_id, name});
      if (!st || !root_ || it == keys_.end()) {
        lock.unlock();
        if (!st) return reply(st.error());
        return reply(make_error(Errc::kKeyNotFound, "the key went away meanwhile"));
      }
      Key& k = *it->second;
      k.rec.latest_version = version;
      k.material[version] = std::move(*material);
      k.created[version] = created;
      ++generation_;
      KeyInfo info = k.info();
      lock.unlock();
      reply(std::move(info));
    });
  });
}

void KeyService::configure_key(const std::string& app_id, const std::string& name, KeyConfig cfg, Actor actor,
                               Done<KeyInfo> done) {
  if (actor != Actor::Admin && (cfg.exportable || cfg.deletion_allowed))
    return done(make_error(Errc::kAdminRequired, "exportable and deletion_allowed are set with the admin token only"));
  serialised({app_id, name}, [this, app_id, name, cfg, done = std::move(done)](Finish finish) {
    auto reply = [done, finish](Result<KeyInfo> r) {
      finish();  // first: once the caller hears, it may destroy the service
      done(std::move(r));
    };
    store::KmsKeyChange change{app_id,      name, cfg.min_decryption_version, std::nullopt, cfg.deletion_allowed,
                               std::nullopt};
    {
      std::shared_lock lock(mu_);
      if (!root_) return reply(sealed_error());
      auto k = usable_locked(app_id, name);
      if (!k) return reply(k.error());
      const auto& rec = (*k)->rec;
      if (cfg.min_decryption_version &&
          (*cfg.min_decryption_version < 1 || *cfg.min_decryption_version > rec.latest_version))
        return reply(make_error(Errc::kInvalidArgument, "min_decryption_version must be 1 to the latest version"));
      if (cfg.exportable && rec.exportable && !*cfg.exportable)
        return reply(make_error(Errc::kInvalidArgument, "an exportable key cannot be made non-exportable again"));
      change.exportable = cfg.exportable;
      change.expected = settings_of(rec);
    }
    store_.kms().update_kms_key(change, [this, change, reply](Status st) {
      if (!st) return reply(st.error());
      std::unique_lock lock(mu_);
      auto it = keys_.find(KeyId{change.app_id, change.name});
      if (!root_ || it == keys_.end()) {
        lock.unlock();
        return reply(make_error(Errc::kKeyNotFound, "the key went away meanwhile"));
      }
      auto& rec = it->second->rec;
      if (change.min_decryption_version) rec.min_decryption_version = *change.min_decryption_version;
      if (change.exportable) rec.exportable = *change.exportable;
      if (change.deletion_allowed) rec.deletion_allowed = *change.deletion_allowed;
      ++generation_;
      KeyInfo info = it->second->info();
      lock.unlock();
      reply(std::move(info));
    });
  });
}

void KeyService::delete_key(const std::string& app_id, const std::string& name, Done<KeyInfo> done) {
  serialised({app_id, name}, [this, app_id, name, done = std::move(done)](Finish finish) {
    auto reply = [done, finish](Result<KeyInfo> r) {
      finish();  // first: once the caller hears, it may destroy the service
      done(std::move(r));
    };
    KeyInfo info;
    store::KmsKeySettings expected;
    {
      std::shared_lock lock(mu_);
      if (!root_) return reply(sealed_error());
      auto k = usable_locked(app_id, name);
      if (!k) return reply(k.error());
      if (!(*k)->rec.deletion_allowed)
        return reply(make_error(Errc::kDeletionNotAllowed,
                                "the admin sets deletion_allowed on the key first; deletion cannot be undone"));
      info = (*k)->info();
      expected = settings_of((*k)->rec);
    }
    std::int64_t after = now_ms(opts_.clock) + opts_.deletion_delay_ms;
    info.delete_after_ms = after;
    if (opts_.deletion_delay_ms <= 0) {
      return store_.kms().delete_kms_key(app_id, name, [this, app_id, name, info, reply](Status st) {
        if (!st) return reply(st.error());
        {
          std::unique_lock lock(mu_);
          keys_.erase(KeyId{app_id, name});
          ++generation_;
        }
        log::info("kms_key_deleted", {{"app", app_id}, {"key", name}});
        reply(info);
      });
    }
    store_.kms().update_kms_key(
        store::KmsKeyChange{app_id, name, std::nullopt, std::nullopt, std::nullopt, after, expected},
        [this, app_id, name, after, reply](Status st) {
          if (!st) return reply(st.error());
          std::unique_lock lock(mu_);
          auto it = keys_.find(KeyId{app_id, name});
          if (!root_ || it == keys_.end()) {
            lock.unlock();
            return reply(make_error(Errc::kKeyNotFound, "the key went away meanwhile"));
          }
          it->second->rec.delete_after_ms = after;
          ++generation_;
          KeyInfo info = it->second->info();
          lock.unlock();
          log::info("kms_key_deletion_scheduled", {{"app", app_id}, {"key", name}, {"delete_after_ms", after}});
          reply(std::move(info));
        });
  });
}

void KeyService::cancel_deletion(const std::string& app_id, const std::string& name, Done<KeyInfo> done) {
  serialised({app_id, name}, [this, app_id, name, done = std::move(done)](Finish finish) {
    auto reply = [done, finish](Result<KeyInfo> r) {
      finish();  // first: once the caller hears, it may destroy the service
      done(std::move(r));
    };
    store::KmsKeySettings expected;
    {
      std::shared_lock lock(mu_);
      if (!root_) return reply(sealed_error());
      const Key* k = find_locked(app_id, name);
      if (!k || !valid_key_name(name)) return reply(make_error(Errc::kKeyNotFound, "no key of this name"));
      if (k->rec.delete_after_ms == 0) return reply(make_error(Errc::kConflict, "the key is not being deleted"));
      expected = settings_of(k->rec);
    }
    store_.kms().update_kms_key(
        store::KmsKeyChange{app_id, name, std::nullopt, std::nullopt, std::nullopt, 0, expected},
        [this, app_id, name, reply](Status st) {
          if (!st) return reply(st.error());
          std::unique_lock lock(mu_);
          auto it = keys_.find(KeyId{app_id, name});
          if (!root_ || it == keys_.end()) {
            lock.unlock();
            return reply(make_error(Errc::kKeyNotFound, "the key went away meanwhile"));
          }
          it->second->rec.delete_after_ms = 0;
          ++generation_;
          KeyInfo info = it->second->info();
          lock.unlock();
          log::info("kms_key_deletion_cancelled", {{"app", app_id}, {"key", name}});
          reply(std::move(info));
        });
  });
}

void KeyService::purge_deleted_keys(std::function<void(std::size_t)> done) {
  std::vector<KeyId> due;
  std::int64_t now = now_ms(opts_.clock);
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, k] : keys_)
      if (k->rec.delete_after_ms != 0 && k->rec.delete_after_ms <= now) due.push_back(id);
  }
  struct Tally {
    std::atomic<std::size_t> left, deleted{0};
    std::function<void(std::size_t)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->left = due.size();
  tally->done = std::move(done);
  if (due.empty()) {
    if (tally->done) tally->done(0);
    return;
  }
  auto one_done = [tally](bool deleted) {
    if (deleted) ++tally->deleted;
    if (--tally->left == 0 && tally->done) tally->done(tally->deleted.load());
  };
  for (const auto& id : due) {
    serialised(id, [this, id, now, one_done](Finish finish) {
      {
        std::shared_lock lock(mu_);
        const Key* k = find_locked(id.first, id.second);
        // Cancelled (or already gone) since the list was made.
        if (!k || k->rec.delete_after_ms == 0 || k->rec.delete_after_ms > now) {
          lock.unlock();
          finish();
          return one_done(false);
        }
      }
      store_.kms().delete_kms_key(id.first, id.second, [this, id, one_done, finish](Status st) {
        if (st) {
          std::unique_lock lock(mu_);
          keys_.erase(id);
          ++generation_;
        } else {
          log::error("kms_key_purge_failed", {{"app", id.first}, {"key", id.second}, {"error", st.error().message}});
        }
        if (st) log::info("kms_key_deleted", {{"app", id.first}, {"key", id.second}});
        finish();
        one_done(st.ok());
      });
    });
  }
}

void KeyService::start_purger(std::chrono::milliseconds interval) {
  purger_.start(interval, [this] {
    std::promise<void> p;
    purge_deleted_keys([&p](std::size_t) { p.set_value(); });
    p.get_future().wait();
  });
}

void KeyService::stop_purger() {
  purger_.stop();
}

// ---- the service's and the apps' own keys ----

// The writes of one app's missing own keys, and who waits for them.
struct KeyService::AppKeysWrite {
  std::string app_id;
  std::vector<std::unique_ptr<Key>> keys;
  std::vector<Status> results;
  std::size_t left = 0;
  std::vector<store::Completion> waiters;
};

void KeyService::ensure_app_keys(const std::string& app_id, store::Completion done) {
  std::shared_ptr<AppKeysWrite> w;
  std::vector<store::KmsVersionRecord> firsts;
  {
    std::unique_lock lock(mu_);
    if (!root_) {
      lock.unlock();
      return done(sealed_error());
    }
    if (auto it = app_key_writes_.find(app_id); it != app_key_writes_.end()) {
      it->second->waiters.push_back(std::move(done));  // a write of them is under way
      return;
    }
    w = std::make_shared<AppKeysWrite>();
    w->app_id = app_id;
    for (const char* name : kAppKeys) {
      if (find_locked(app_id, name)) continue;
      firsts.emplace_back();
      w->keys.push_back(new_key_locked(app_id, name, std::string(detail::kAes), false,
                                       crypto::random_secret(crypto::kAeadKeyBytes), firsts.back()));
    }
    if (w->keys.empty()) {
      lock.unlock();
      return done(ok_status());
    }
    w->waiters.push_back(std::move(done));
    w->results.assign(w->keys.size(), ok_status());
    w->left = w->keys.size();
    app_key_writes_[app_id] = w;
  }
  for (std::size_t i = 0; i < w->keys.size(); ++i) {
    store_.kms().insert_kms_key(w->keys[i]->rec, std::move(firsts[i]), [this, w, i](Status st) {
      bool last = false;
      {
        std::unique_lock lock(mu_);
        w->results[i] = std::move(st);
        last = --w->left == 0;
      }
      if (last) app_keys_written(w);
    });
  }
}

// Every write of `w` has completed: the keys that are durable become usable; the waiters
// hear the first failure, if any.
void KeyService::app_keys_written(const std::shared_ptr<AppKeysWrite>& w) {
  Status result = ok_status();
  std::vector<store::Completion> waiters;
  {
    std::unique_lock lock(mu_);
    for (std::size_t i = 0; i < w->keys.size(); ++i) {
      if (!w->results[i]) {
        if (result) result = w->results[i];
        continue;
      }
      if (root_) keys_[KeyId{w->app_id, w->keys[i]->rec.name}] = std::move(w->keys[i]);
      ++generation_;
    }
    if (result && !root_) result = make_error(Errc::kSealed, "the key service was sealed meanwhile");
    waiters = std::move(w->waiters);
    app_key_writes_.erase(w->app_id);
  }
  if (!result) log::error("kms_key_write_failed", {{"app", w->app_id}, {"error", result.error().message}});
  for (auto& d : waiters) d(result);
}

Status KeyService::ensure_app_keys(const std::string& app_id) {
  {
    std::shared_lock lock(mu_);
    if (!root_) return sealed_error();
    bool all = true;
    for (const char* name : kAppKeys) all = all && find_locked(app_id, name);
    if (all) return ok_status();
  }
  if (store::on_store_thread())
    return make_error(Errc::kInternal, "an app's keys cannot be made and waited for on a store thread");
  return store::wait_for([&](store::Completion d) { ensure_app_keys(app_id, std::move(d)); });
}

Status KeyService::ensure_signing_key(const std::string& name) {
  const std::string app(kSystemApp);
  std::shared_ptr<Key> k;
  store::KmsVersionRecord first;
  {
    std::unique_lock lock(mu_);
    if (!root_) return sealed_error();
    if (find_locked(app, name)) return ok_status();
    crypto::PrivateKey priv = crypto::PrivateKey::generate(crypto::KeyKind::Ed25519);
    std::string pem = priv.to_pem();
    crypto::SecretBytes material(pem);
    OPENSSL_cleanse(pem.data(), pem.size());
    k = new_key_locked(app, name, "ed25519", false, std::move(material), first);
  }
  // Waited for: a checkpoint signed with a key the store then lost could never be checked.
  if (store::on_store_thread())
    return make_error(Errc::kInternal, "a signing key cannot be made and waited for on a store thread");
  auto st = store::wait_for(
      [&](store::Completion d) { store_.kms().insert_kms_key(k->rec, std::move(first), std::move(d)); });
  if (!st) {
    log::error("kms_key_write_failed", {{"key", name}, {"error", st.error().message}});
    return st;
  }
  std::unique_lock lock(mu_);
  if (!root_) return make_error(Errc::kSealed, "the key service was sealed meanwhile");
  auto& slot = keys_[KeyId{app, name}];
  if (!slot) slot = std::make_unique<Key>(std::move(*k));
  ++generation_;
  return ok_status();
}

}  // namespace herald::kms

// The keyring reloaded from the store after another node changed it (the store's change
// feed, or a use that found a key or version this node does not hold yet): new keys and
// versions unwrapped, settings taken over, deleted keys dropped, swapped in at once.
#include <set>

#include "core/log.h"
#include "crypto/aead.h"
#include "kms/detail/keyring.h"
#include "store/store.h"

namespace herald::kms {
namespace {

// A reload that keeps finding local changes landing under it gives up after this many reads.
constexpr int kReloadAttempts = 4;
// The closest two reloads a use may cause for one app, after one that found nothing new.
constexpr auto kRefreshSpacing = std::chrono::milliseconds(100);
// Apps remembered for that spacing; beyond this many, the memory starts over.
constexpr std::size_t kRefreshMemory = 10'000;

bool same_settings(const store::KmsKeyRecord& x, const store::KmsKeyRecord& y) {
  return x.latest_version == y.latest_version && x.min_decryption_version == y.min_decryption_version &&
         x.exportable == y.exportable && x.deletion_allowed == y.deletion_allowed &&
         x.delete_after_ms == y.delete_after_ms;
}

}  // namespace

Status KeyService::reload_keys(const std::string& only) {
  bool changed = false;
  return reload_keys(only, changed);
}

Status KeyService::reload_keys(const std::string& only, bool& changed) {
  changed = false;
  if (store::on_store_thread()) return make_error(Errc::kInternal, "the keyring cannot be reloaded on a store thread");
  std::lock_guard serial(reload_mu_);
  for (int attempt = 1;; ++attempt) {
    std::uint64_t generation = 0;
    {
      std::shared_lock lock(mu_);
      if (!root_) return make_error(Errc::kSealed, "the key service is sealed");
      generation = generation_;
    }
    // Keys before versions: a version read is never older than its key's latest_version.
    auto recs = store_.kms().load_kms_keys();
    if (!recs) return recs.error();
    auto versions = store_.kms().load_kms_versions();
    if (!versions) return versions.error();
    std::unique_lock lock(mu_);
    if (!root_) return make_error(Errc::kSealed, "the key service was sealed meanwhile");
    // A change of this node's landed while the store was read: read again rather than undo it.
    if (generation_ != generation && attempt < kReloadAttempts) continue;
    std::map<KeyId, std::unique_ptr<Key>> fresh;
    for (const auto& r : *recs) {
      if (!only.empty() && r.app_id != only) continue;
      auto k = std::make_unique<Key>();
      k->rec = r;
      if (auto held = keys_.find(KeyId{r.app_id, r.name}); held != keys_.end()) {
        k->material = held->second->material;  // versions held already: no unwrap again
        k->created = held->second->created;
      }
      fresh[KeyId{r.app_id, r.name}] = std::move(k);
    }
    for (auto& v : *versions) {
      auto it = fresh.find(KeyId{v.app_id, v.name});
      if (it == fresh.end() || it->second->material.count(v.version)) continue;
      auto key = crypto::aead_open(*root_, v.wrapped, detail::wrap_aad(v.app_id, v.name, v.version));
      if (!key)
        return make_error(Errc::kStoreError, "key " + v.name + " version " + std::to_string(v.version) + " of " +
                                                 v.app_id + " does not unwrap: the store was altered");
      it->second->material[v.version] = std::move(*key);
      it->second->created[v.version] = v.created_ms;
    }
    // A key whose latest version did not come with it (deleted between the two reads) is
    // left as it was; the deletion's own report follows.
    std::erase_if(fresh, [](const auto& e) { return !e.second->material.count(e.second->rec.latest_version); });
    std::size_t before = keys_.size();
    std::erase_if(keys_, [&](const auto& e) {
      return (only.empty() || e.first.first == only) && !fresh.count(e.first) &&
             !std::any_of(recs->begin(), recs->end(),
                          [&](const auto& r) { return r.app_id == e.first.first && r.name == e.first.second; });
    });
    changed = keys_.size() != before;
    for (auto& [id, k] : fresh) {
      auto& slot = keys_[id];
      changed = changed || !slot || slot->material.size() != k->material.size() || !same_settings(slot->rec, k->rec);
      slot = std::move(k);
    }
    ++generation_;
    return ok_status();
  }
}

bool KeyService::refresh_from_store(const std::string& app_id) const {
  if (store::on_store_thread()) return false;
  {
    std::lock_guard lock(refresh_mu_);
    auto now = std::chrono::steady_clock::now();
    if (last_refresh_.size() >= kRefreshMemory) last_refresh_.clear();
    auto it = last_refresh_.find(app_id);
    if (it != last_refresh_.end() && now - it->second < kRefreshSpacing) return false;
  }
  // The keyring's state is not the caller's to see as const: another node changed it.
  bool changed = false;
  auto st = const_cast<KeyService*>(this)->reload_keys(app_id, changed);
  if (!st) log::warn("kms_reload_failed", {{"app", app_id}, {"error", st.error().message}});
  // Only a reload that found nothing spaces the next one: a caller naming versions that
  // do not exist is held off, a key another node keeps changing is not.
  std::lock_guard lock(refresh_mu_);
  if (changed)
    last_refresh_.erase(app_id);
  else
    last_refresh_[app_id] = std::chrono::steady_clock::now();
  return st.ok() && changed;
}

}  // namespace herald::kms

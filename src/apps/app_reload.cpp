// Apps reloaded from the store after another node changed them (the store's change
// feed): read, checked as at load, and swapped in, with what live connections must hear.
#include <set>

#include "apps/app_store.h"
#include "apps/record_mac.h"
#include "core/log.h"
#include "core/metrics.h"

namespace herald::apps {
namespace {

// A reload that keeps finding local changes landing under it gives up after this many reads.
constexpr int kReloadAttempts = 4;

// HS256 client secrets are named by their id; public keys by their kid.
bool lost_a_client_key(const App& before, const App& after) {
  for (const auto& s : before.client_secrets) {
    bool kept = false;
    for (const auto& n : after.client_secrets) kept = kept || n.id == s.id;
    if (!kept) return true;
  }
  for (const auto& k : before.client_keys) {
    if (k.alg == auth::JwtAlg::HS256) continue;
    bool kept = false;
    for (const auto& n : after.client_keys) kept = kept || (n.kid == k.kid && n.alg == k.alg);
    if (!kept) return true;
  }
  return false;
}

}  // namespace

Result<App> AppStore::reloaded_app(const store::AppRecord& r) {
  if (auto st = verify_record_mac(sealer_, r); !st) return st.error();
  return from_record(r);
}

Result<std::vector<AppReloaded>> AppStore::reload(const std::string& only) {
  std::lock_guard serial(reload_mu_);
  for (int attempt = 1;; ++attempt) {
    std::uint64_t generation = 0;
    std::map<std::string, std::string> held;  // id -> record_mac, of the apps in memory
    {
      std::lock_guard lock(mu_);
      generation = generation_;
      for (const auto& r : records_cache_)
        if (only.empty() || r.id == only) held[r.id] = r.record_mac;
    }
    auto rows = records_.load_apps();
    if (!rows) return rows.error();
    std::vector<std::pair<store::AppRecord, App>> changed;
    std::vector<UnavailableApp> bad;
    std::set<std::string> stored;
    for (auto& r : *rows) {
      if (!only.empty() && r.id != only) continue;
      stored.insert(r.id);
      auto h = held.find(r.id);
      if (h != held.end() && h->second == r.record_mac) continue;  // as held: this node's own change, echoed
      auto app = reloaded_app(r);
      if (!app && app.error().code == Errc::kSealed) return app.error();
      if (!app) {
        const std::string& m = app.error().message;
        std::string reason = (m == "mac_missing" || m == "mac_mismatch") ? m : "unreadable";
        log::error("app_unavailable", {{"app", r.id}, {"name", r.name}, {"reason", reason}, {"error", m}});
        if (m_rejected_) m_rejected_->with({reason}).inc();
        bad.push_back(UnavailableApp{r.id, r.name, std::move(reason)});
        continue;
      }
      changed.emplace_back(std::move(r), std::move(*app));
    }
    std::vector<std::string> gone;
    for (const auto& [id, mac] : held)
      if (!stored.count(id)) gone.push_back(id);
    std::vector<AppReloaded> events;
    {
      std::lock_guard lock(mu_);
      // A change of this node's landed while the store was read: what was read may be
      // older than it, so read again rather than undo it.
      if (generation_ != generation && attempt < kReloadAttempts) continue;
      if (generation_ != generation) log::warn("app_reload_raced", {{"app", only}});
      // The unavailable apps of the ids read are what this read found.
      std::erase_if(unavailable_, [&](const UnavailableApp& u) { return only.empty() || u.id == only; });
      swap_in_locked(changed, bad, gone, events);
    }
    return events;
  }
}

void AppStore::swap_in_locked(std::vector<std::pair<store::AppRecord, App>>& changed, std::vector<UnavailableApp>& bad,
                              const std::vector<std::string>& gone, std::vector<AppReloaded>& events) {
  auto drop = [&](const std::string& id) {
    if (cache_.find_by_id(id)) events.push_back(AppReloaded{id, true, false});
    cache_.remove(id);
    std::erase_if(records_cache_, [&](const auto& x) { return x.id == id; });
  };
  for (auto& [r, app] : changed) {
    auto before = cache_.find_by_id(r.id);
    if (before) {
      AppReloaded e{r.id, before->status == AppStatus::Active && app.status != AppStatus::Active,
                    lost_a_client_key(*before, app) || app.tokens_issued_after > before->tokens_issued_after};
      if (e.disabled || e.tokens_revoked) events.push_back(e);
    }
    cache_.put(std::move(app));
    auto it = std::find_if(records_cache_.begin(), records_cache_.end(), [&](const auto& x) { return x.id == r.id; });
    if (it == records_cache_.end())
      records_cache_.push_back(std::move(r));
    else
      *it = std::move(r);
  }
  for (auto& u : bad) {
    drop(u.id);
    unavailable_.push_back(std::move(u));
  }
  for (const auto& id : gone) drop(id);
  ++generation_;
  if (m_unavailable_) m_unavailable_->set(static_cast<std::int64_t>(unavailable_.size()));
}

}  // namespace herald::apps

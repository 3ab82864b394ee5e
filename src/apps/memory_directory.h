// An AppDirectory held in memory: for tests and tools, and the cache the stored
// directory serves lookups from.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "apps/app.h"

namespace herald::apps {

class MemoryAppDirectory final : public AppDirectory {
 public:
  // Adds or replaces (by id) an app.
  void put(App app) {
    auto shared = std::make_shared<const App>(std::move(app));
    std::lock_guard lock(mu_);
    if (auto it = by_id_.find(shared->id); it != by_id_.end()) by_key_.erase(it->second->key);
    by_id_[shared->id] = shared;
    by_key_[shared->key] = shared;
  }
  void remove(const std::string& id) {
    std::lock_guard lock(mu_);
    if (auto it = by_id_.find(id); it != by_id_.end()) {
      by_key_.erase(it->second->key);
      by_id_.erase(it);
    }
  }
  std::shared_ptr<const App> find_by_key(std::string_view key) const override {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(std::string(key));
    return it == by_key_.end() ? nullptr : it->second;
  }
  std::shared_ptr<const App> find_by_id(std::string_view id) const override {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(std::string(id));
    return it == by_id_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const App>, std::less<>> by_key_, by_id_;
};

}  // namespace herald::apps

// The apps of this installation: kept in the store (secrets sealed), served from memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/memory_directory.h"
#include "kms/sealer.h"
#include "store/app_records.h"

namespace herald::apps {

// A new app's secrets, shown once: the store keeps them only sealed.
struct CreatedApp {
  std::shared_ptr<const App> app;
  std::string client_secret;  // the HS256 key for client JWTs (its UTF-8 bytes are the key)
};

class AppStore final : public AppDirectory {
 public:
  AppStore(store::AppRecords& records, kms::Sealer& sealer) : records_(records), sealer_(sealer) {}

  // Reads every app into memory; fails if a stored secret does not open.
  Status load();
  // Creates an app named `name` (1..64 chars of [A-Za-z0-9_.-]) with a fresh AppKey and
  // client secret. Blocks until durable: not for I/O threads. "conflict" if the name is taken.
  Result<CreatedApp> create(const std::string& name);
  std::vector<std::shared_ptr<const App>> list() const;
  std::shared_ptr<const App> find_by_name(std::string_view name) const;
  // The app's client secret, unsealed (for the development banner).
  Result<std::string> client_secret(const App& app);

  std::shared_ptr<const App> find_by_key(std::string_view key) const override { return cache_.find_by_key(key); }
  std::shared_ptr<const App> find_by_id(std::string_view id) const override { return cache_.find_by_id(id); }

 private:
  Result<App> from_record(const store::AppRecord& r);

  store::AppRecords& records_;
  kms::Sealer& sealer_;
  MemoryAppDirectory cache_;
  mutable std::mutex mu_;
  std::vector<store::AppRecord> records_cache_;
};

bool valid_app_name(std::string_view name);

}  // namespace herald::apps

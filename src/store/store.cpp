// Store factory and the blocking helper for non-I/O callers.
#include "store/store.h"

#include <future>

#include "core/config.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace herald::store {
namespace {

// One node, one writer: nothing changes behind its back.
class SingleNodeFeed final : public ChangeFeed {
 public:
  void start(Listener, std::chrono::milliseconds) override {}
  void stop() override {}
  bool connected() const override { return true; }
};

}  // namespace

std::string_view change_kind_name(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAll:
      return "all";
    case ChangeKind::kApp:
      return "app";
    case ChangeKind::kKmsKey:
      return "kms_key";
    case ChangeKind::kMessageSettings:
      return "message_settings";
    case ChangeKind::kMessageTemplate:
      return "message_template";
    case ChangeKind::kOtpBlocklist:
      return "otp_blocklist";
  }
  return "all";
}

ChangeFeed& Store::changes() {
  static SingleNodeFeed none;
  return none;
}

Result<std::unique_ptr<Store>> open_store(std::string_view driver, const StoreOptions& opts) {
  if (driver == "sqlite") {
    auto s = SqliteStore::open(opts);
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (driver == "postgres") {
    auto s = PostgresStore::open(opts);
    if (!s) return s.error();
    return std::unique_ptr<Store>(std::move(*s));
  }
  return make_error(Errc::kInvalidConfig,
                    "store.driver: unknown driver '" + std::string(driver) + "' (known: sqlite, postgres)");
}

Result<std::unique_ptr<Store>> open_store(const Config& cfg, metrics::Registry* metrics) {
  StoreOptions opts{cfg.store.data_dir, cfg.store.commit_batch_max, metrics,
                    static_cast<std::size_t>(cfg.store.readers)};
  opts.postgres.url = cfg.store.postgres.url;
  opts.postgres.pool_size = static_cast<std::size_t>(cfg.store.postgres.pool_size);
  opts.postgres.connect_timeout = cfg.store.postgres.connect_timeout;
  opts.postgres.statement_timeout = cfg.store.postgres.statement_timeout;
  opts.audit_log = node_name(cfg.cluster);
  return open_store(cfg.store.driver, opts);
}

namespace {
thread_local bool t_store_thread = false;
}  // namespace

bool on_store_thread() {
  return t_store_thread;
}

void mark_store_thread() {
  t_store_thread = true;
}

Status wait_for(const std::function<void(Completion)>& start) {
  std::promise<Status> p;
  auto f = p.get_future();
  start([&p](Status st) { p.set_value(std::move(st)); });
  return f.get();
}

}  // namespace herald::store

// The change feed of the PostgreSQL store: a dedicated connection LISTENs for the
// triggers' notifications and reads the cluster_changes rows it has not seen, waking on a
// notification or every poll interval, so a lost notification only delays a change.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/postgres/pg_conn.h"
#include "store/store.h"

namespace herald::metrics {
class Registry;
class Counter;
class Gauge;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::store::pg {

class ChangeListener final : public ChangeFeed {
 public:
  ChangeListener(ConnectOptions opts, metrics::Registry* registry);
  ~ChangeListener() override;
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  void start(Listener listener, std::chrono::milliseconds poll_interval) override;
  void stop() override;
  bool connected() const override { return connected_.load(); }
  // Between start() and stop().
  bool running() const { return running_.load(); }

  // Rows older than this are purged; a feed away for longer reports kAll on its return.
  static constexpr std::chrono::milliseconds kRetention{10 * 60 * 1000};

 private:
  void run();
  // Connects and LISTENs. A first connection (or one after a long absence) starts from
  // what is committed now (`rebase`); otherwise the read continues where it was.
  Status connect(bool rebase);
  // Reads the rows of transactions the last read could not see, reports the new ones.
  Status read_changes(bool notify);
  // Waits for a notification, stop() or `timeout`; false when the connection broke.
  bool wait(std::chrono::milliseconds timeout);
  void pause(std::chrono::milliseconds d);
  void set_connected(bool up);
  void purge_old();
  void report(ChangeKind kind, const std::string& app_id);

  ConnectOptions opts_;
  Listener listener_;
  std::chrono::milliseconds poll_{1000};
  std::unique_ptr<Connection> conn_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> running_{false};
  bool resync_ = false;     // a report failed: kAll is reported until one succeeds
  int wake_[2] = {-1, -1};  // a pipe: stop() writes, wait() polls it beside the socket
  std::mutex mu_;           // pause()'s sleep
  std::condition_variable cv_;
  // Rows seen whose transaction the last read's snapshot still had in flight, by id:
  // the next read covers them again, and they are not reported twice.
  std::map<std::int64_t, std::int64_t> seen_;  // id -> txid
  std::int64_t xmin_ = 0;                      // the last read's snapshot xmin
  std::chrono::steady_clock::time_point last_read_{};
  std::chrono::steady_clock::time_point last_purge_{};
  metrics::Family<metrics::Counter>* m_changes_ = nullptr;
  metrics::Gauge* m_connected_ = nullptr;
};

}  // namespace herald::store::pg

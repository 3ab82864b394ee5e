// The PostgreSQL change feed: LISTEN on its own connection, and a read of cluster_changes
// by transaction id on every notification and every poll interval. A row is read again
// until the reading snapshot's xmin passes its transaction, so one committed out of id
// order is never skipped; the ids seen keep it from being reported twice.
#include "store/postgres/pg_change_feed.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"

namespace herald::store::pg {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5000ms;
constexpr auto kPurgeEvery = 60s;

// One statement, so that the rows and the xmin come from one snapshot: every transaction
// below that xmin had ended when the rows were read.
constexpr const char* kReadChanges =
    "WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) "
    "SELECT s.xmin, c.id, c.kind, c.app_id, c.txid FROM s LEFT JOIN cluster_changes c ON c.txid >= $1 "
    "ORDER BY c.id;";

std::optional<ChangeKind> kind_of(std::string_view s) {
  for (auto k : {ChangeKind::kApp, ChangeKind::kKmsKey, ChangeKind::kMessageSettings, ChangeKind::kMessageTemplate,
                 ChangeKind::kOtpBlocklist})
    if (change_kind_name(k) == s) return k;
  return std::nullopt;
}

}  // namespace

ChangeListener::ChangeListener(ConnectOptions opts, metrics::Registry* registry) : opts_(std::move(opts)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  if (!registry) return;
  m_changes_ =
      &registry->counter("herald_cluster_changes_total",
                         "Changes to apps, keys and delivery settings the change feed reported, by kind", {"kind"});
  m_connected_ =
      &registry->gauge("herald_cluster_feed_connected", "1 while the change feed's connection to PostgreSQL is up")
           .with({});
}

ChangeListener::~ChangeListener() {
  stop();
  for (int fd : wake_)
    if (fd >= 0) ::close(fd);
}

void ChangeListener::start(Listener listener, std::chrono::milliseconds poll_interval) {
  if (thread_.joinable()) return;
  listener_ = std::move(listener);
  poll_ = std::max<std::chrono::milliseconds>(poll_interval, 10ms);
  // The first read here, before the caller loads anything: every change committed after
  // it is reported, so nothing falls between the load and the feed.
  if (auto st = connect(true); st)
    set_connected(true);
  else
    log::warn("change_feed_failed", {{"error", st.error().message}});
  thread_ = std::thread([this] { run(); });
  running_ = true;
}

void ChangeListener::stop() {
  stopping_ = true;
  if (wake_[1] >= 0) {
    char b = 1;
    (void)!::write(wake_[1], &b, 1);
  }
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  running_ = false;
  if (thread_.joinable()) thread_.join();
  conn_.reset();
  set_connected(false);
}

void ChangeListener::set_connected(bool up) {
  connected_ = up;
  if (m_connected_) m_connected_->set(up ? 1 : 0);
}

void ChangeListener::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void ChangeListener::run() {
  auto backoff = std::chrono::milliseconds(kFirstBackoff);
  bool logged_failure = false;
  while (!stopping_) {
    if (!conn_ || !conn_->ok()) {
      set_connected(false);
      // Rows are kept for kRetention: within half of it, the read goes on where it was.
      bool rebase = last_read_ == SteadyClock::time_point{} || SteadyClock::now() - last_read_ > kRetention / 2;
      auto st = connect(rebase);
      if (!st) {
        if (!logged_failure) log::warn("change_feed_failed", {{"error", st.error().message}});
        logged_failure = true;
        pause(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = kFirstBackoff;
      logged_failure = false;
      set_connected(true);
      log::info("change_feed_connected", {{"resumed", !rebase}});
      // What changed while the feed was away may be gone from the table: all of it.
      if (rebase) report(ChangeKind::kAll, "");
    }
    if (auto st = read_changes(true); !st) {
      log::warn("change_feed_failed", {{"error", st.error().message}});
      conn_.reset();
      continue;
    }
    if (resync_) report(ChangeKind::kAll, "");
    purge_old();
    if (!wait(poll_)) conn_.reset();
  }
}

Status ChangeListener::connect(bool rebase) {
  conn_.reset();
  auto c = Connection::open(opts_);
  if (!c) return c.error();
  if (auto st = (*c)->exec("LISTEN herald_changes;", "change feed"); !st) return st;
  conn_ = std::move(*c);
  if (!rebase) return ok_status();
  seen_.clear();
  xmin_ = 0;
  auto st = read_changes(false);
  if (!st) conn_.reset();
  return st;
}

Status ChangeListener::read_changes(bool notify) {
  // Connection::run would reconnect by itself, without the LISTEN: that is connect()'s.
  if (!conn_->ok()) return make_error(Errc::kStoreUnavailable, "change feed: the connection broke");
  auto rows = conn_->run(kReadChanges, params(xmin_), "change feed");
  if (!rows) return rows.error();
  if (rows->rows() == 0) return make_error(Errc::kStoreError, "change feed: no snapshot row");
  std::int64_t xmin = rows->row(0).i64(0);
  std::vector<std::pair<ChangeKind, std::string>> batch;
  for (int i = 0; i < rows->rows(); ++i) {
    auto r = rows->row(i);
    if (r.is_null(1)) continue;
    std::int64_t id = r.i64(1);
    if (!seen_.emplace(id, r.i64(4)).second) continue;
    auto kind = kind_of(r.bytes(2));
    if (!notify || !kind) continue;
    std::pair<ChangeKind, std::string> change{*kind, r.bytes(3)};
    // A transaction changes many rows of one app (a key and its versions): one report.
    if (std::find(batch.begin(), batch.end(), change) == batch.end()) batch.push_back(std::move(change));
  }
  std::erase_if(seen_, [xmin](const auto& e) { return e.second < xmin; });
  xmin_ = xmin;
  last_read_ = SteadyClock::now();
  for (const auto& [kind, app] : batch) report(kind, app);
  return ok_status();
}

void ChangeListener::report(ChangeKind kind, const std::string& app_id) {
  if (stopping_ || !listener_) return;
  if (m_changes_) m_changes_->with({std::string(change_kind_name(kind))}).inc();
  bool taken = listener_(kind, app_id);
  if (kind == ChangeKind::kAll)
    resync_ = !taken;
  else if (!taken)
    resync_ = true;
}

bool ChangeListener::wait(std::chrono::milliseconds timeout) {
  pg_conn* raw = conn_->raw();
  // Notifications that arrived during the last read are queued already: read again now.
  bool queued = false;
  while (PGnotify* n = PQnotifies(raw)) {
    PQfreemem(n);
    queued = true;
  }
  if (queued) return true;
  pollfd fds[2] = {{PQsocket(raw), POLLIN, 0}, {wake_[0], POLLIN, 0}};
  int n = ::poll(fds, wake_[0] >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n > 0 && fds[0].revents != 0) {
    if (PQconsumeInput(raw) == 0) return false;
    while (PGnotify* note = PQnotifies(raw)) PQfreemem(note);
  }
  return PQstatus(raw) == CONNECTION_OK;
}

void ChangeListener::purge_old() {
  auto now = SteadyClock::now();
  if (now - last_purge_ < kPurgeEvery) return;
  last_purge_ = now;
  // Every node purges (idempotent, cheap: an index on at_ms), by the database's clock,
  // which stamped the rows: a node's own clock may be off.
  if (auto r = conn_->run(
          "DELETE FROM cluster_changes WHERE at_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1;",
          params(static_cast<std::int64_t>(kRetention.count())), "change feed purge");
      !r)
    log::warn("change_feed_purge_failed", {{"error", r.error().message}});
}

}  // namespace herald::store::pg

// Appends are serialised by one mutex held only for a hash, a frontier step and queueing
// the write: the store's writer commits in queue order, so the durable log is always a
// prefix of the appended one, and a checkpoint signs only what is durable.
#include "audit/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "audit/verifier.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "crypto/signature.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::audit {
namespace {

// Entries a failing store may hold in memory before further events are dropped.
constexpr std::size_t kMaxUnwritten = 100'000;

namespace json = boost::json;

std::string q(std::string_view s) {
  return json::serialize(json::string(s));
}

std::string hash_bytes(const Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

std::optional<Hash> to_hash(const std::string& s) {
  if (s.size() != 32) return std::nullopt;
  Hash h{};
  std::copy(s.begin(), s.end(), h.begin());
  return h;
}

// Pages through the entries for the first seq that is absent: a log written before failed
// batches were retried can have a hole, which the operator must hear about as such.
std::optional<std::pair<std::uint64_t, std::uint64_t>> first_gap(store::AuditRecords& audit, std::uint64_t size) {
  constexpr std::uint64_t kPage = 4096;
  std::uint64_t expect = 0;
  while (expect < size) {
    auto page = audit.audit_entries(expect, kPage);
    if (!page || page->empty()) return std::pair{expect, size};
    if (page->front().seq != expect) return std::pair{expect, page->front().seq};
    for (std::size_t i = 1; i < page->size(); ++i)
      if ((*page)[i].seq != (*page)[i - 1].seq + 1) return std::pair{(*page)[i - 1].seq + 1, (*page)[i].seq};
    expect = page->back().seq + 1;
  }
  return std::nullopt;
}

Error missing_nodes_error(store::AuditRecords& audit, std::uint64_t size) {
  if (auto gap = first_gap(audit, size)) {
    log::error("audit_gap", {{"first_missing", gap->first}, {"missing", gap->second - gap->first}, {"size", size}});
    return make_error(Errc::kAuditCorrupt, "the audit log has a gap: entries " + std::to_string(gap->first) + " to " +
                                               std::to_string(gap->second - 1) + " of " + std::to_string(size) +
                                               " are missing, so the tree cannot be extended; run `herald audit "
                                               "verify`, archive the data directory, and see docs/audit.md (Gaps)");
  }
  return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes; run `herald audit verify`");
}

}  // namespace

std::string checkpoint_message(std::uint64_t size, const Hash& root, std::int64_t ts_ms) {
  return "herald audit checkpoint v1\n" + std::to_string(size) + "\n" + to_hex(root) + "\n" + std::to_string(ts_ms) +
         "\n";
}

Log::Log(store::Store& store, kms::KeyService& keys, LogOptions opts, metrics::Registry* registry)
    : store_(store), keys_(keys), opts_(opts) {
  if (registry) {
    m_entries_ = &registry->counter("herald_audit_entries_total", "Audit entries appended").with({});
    m_checkpoints_ = &registry->counter("herald_audit_checkpoints_total", "Signed audit checkpoints written").with({});
    m_failures_ =
        &registry->counter("herald_audit_write_failures_total", "Audit entries the store failed to write").with({});
    m_dropped_ = &registry
                      ->counter("herald_audit_entries_dropped_total",
                                "Events not audited because failed audit writes hold too many entries")
                      .with({});
    m_witness_failures_ = &registry
                               ->counter("herald_audit_witness_failures_total",
                                         "Checkpoints that could not be appended to audit.witness_file")
                               .with({});
  }
  if (opts_.witness_poster)
    witness_queue_ = std::make_unique<WitnessQueue>(std::move(opts_.witness_poster), opts_.witness_queue, registry);
}

Log::~Log() {
  stop();
  stop_witness();
  // The store runs every completion, if only with store_closed, so this wait ends; a
  // caller that saw durable_size() reach size() may otherwise free the Log while the
  // writer thread is still inside on_written().
  std::unique_lock lock(settled_mu_);
  settled_cv_.wait(lock, [&] { return writes_outstanding_ == 0; });
}

NodeReader Log::store_nodes() {
  return [this](unsigned level, std::uint64_t index) -> std::optional<Hash> {
    auto n = store_.audit().audit_node(level, index);
    if (!n || !n->has_value()) return std::nullopt;
    return to_hash(**n);
  };
}

Status Log::open() {
  auto size = store_.audit().audit_size();
  if (!size) return size.error();
  auto f = Frontier::load(store_nodes(), *size);
  if (!f) return missing_nodes_error(store_.audit(), *size);
  auto cp = store_.audit().latest_audit_checkpoint();
  if (!cp) return cp.error();
  {
    std::lock_guard lock(mu_);
    frontier_ = std::move(*f);
    durable_ = *size;
    if (*cp) {
      last_checkpoint_size_ = (*cp)->size;
      last_checkpoint_ms_ = (*cp)->ts_ms;
    }
  }
  settle(*size);
  return ok_status();
}

void Log::start() {
  if (witness_queue_) witness_queue_->start();
  checkpointer_.start(std::chrono::seconds(1), [this] {
    retry_unwritten();
    if (keys_.sealed()) return;
    auto st = checkpoint_if_due(false);
    if (!st && st.error().code != Errc::kSealed) log::error("audit_checkpoint_failed", {{"error", st.error().message}});
  });
}

void Log::stop() {
  checkpointer_.stop();
}

void Log::stop_witness() {
  if (witness_queue_) witness_queue_->stop();
}

bool Log::flush(std::chrono::milliseconds timeout) {
  std::uint64_t target = size();
  std::unique_lock lock(settled_mu_);
  return settled_cv_.wait_for(lock, timeout, [&] { return settled_ >= target; });
}

void Log::settle(std::uint64_t up_to) {
  // Notified under the lock: a flush() that sees settled_ may return and its caller
  // destroy the Log, and the writer thread must be done with settled_cv_ by then.
  std::lock_guard lock(settled_mu_);
  settled_ = std::max(settled_, up_to);
  settled_cv_.notify_all();
}

std::uint64_t Log::size() const {
  std::lock_guard lock(mu_);
  return frontier_.size();
}

std::uint64_t Log::durable_size() const {
  return durable_.load();
}

std::string Log::body_of(std::uint64_t seq, std::int64_t ts_ms, const Event& e) {
  // Keys in a fixed order and compact: the bytes stored are the bytes hashed.
  auto keyed = [&](std::string_view purpose, std::string_view value) -> std::string {
    if (value.empty()) return "";
    auto h = keys_.blind_index(std::string(kms::KeyService::kSystemApp), purpose, value);
    return h ? "hmac:" + h->substr(0, 32) : "sealed";
  };
  std::string b = "{\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(ts_ms) + ",\"type\":" + q(e.type) +
                  ",\"action\":" + q(e.action) + ",\"result\":" + q(e.result);
  if (e.status) b += ",\"status\":" + std::to_string(e.status);
  b += ",\"actor\":" + q(e.actor);
  if (!e.request_id.empty()) b += ",\"request_id\":" + q(e.request_id);
  if (!e.source.empty()) b += ",\"source\":" + q(keyed("audit/source", e.source));
  if (!e.details.empty() || !e.personal.empty()) {
    b += ",\"details\":{";
    bool first = true;
    for (const auto& [k, v] : e.details) {
      b += (first ? "" : ",") + q(k) + ":" + q(v);
      first = false;
    }
    for (const auto& [k, v] : e.personal) {
      b += (first ? "" : ",") + q(k) + ":" + q(keyed("audit/" + k, v));
      first = false;
    }
    b += "}";
  }
  b += "}";
  return b;
}

void Log::record(Event e) {
  // A request refused because the log cannot write did nothing; recording it would only
  // grow what waits in memory.
  if (failing_.load() && e.result == "audit_unavailable") return;
  std::int64_t now = clock::unix_ms();
  {
    std::lock_guard lock(mu_);
    if (failing_.load() && pending_entries_.size() >= kMaxUnwritten) {
      // Dropped before it gets a seq, so the tree stays whole; audited routes are
      // refused meanwhile, so what lands here is client-protocol refusals.
      if (m_dropped_) m_dropped_->inc();
      return;
    }
    std::uint64_t seq = frontier_.size();
    std::string body = body_of(seq, now, e);
    Hash leaf = leaf_hash(body);
    for (const auto& n : frontier_.append(leaf))
      pending_nodes_.push_back(store::AuditNodeRecord{n.level, n.index, hash_bytes(n.hash)});
    pending_entries_.push_back(store::AuditEntryRecord{seq, hash_bytes(leaf), std::move(body)});
    if (m_entries_) m_entries_->inc();
    // After a failure the checkpointer retries; piling writes onto a failing disk helps nobody.
    if (in_flight_ || failing_.load()) return;
    in_flight_ = true;
  }
  write_pending();
}

bool Log::admits() const {
  if (!failing_.load()) return true;
  if (!opts_.ride_out_store_outage || store_.healthy()) return false;
  std::lock_guard lock(mu_);
  return pending_entries_.size() < kMaxUnwritten / 2;
}

void Log::retry_unwritten() {
  {
    std::lock_guard lock(mu_);
    if (in_flight_ || pending_entries_.empty()) return;
    in_flight_ = true;
  }
  write_pending();
}

void Log::write_pending() {
  {
    std::lock_guard lock(settled_mu_);
    ++writes_outstanding_;
  }
  store_.audit().append_audit_batch(
      [this] {
        // On the writer thread: take what accumulated; later entries wait for the answer.
        std::lock_guard l(mu_);
        store::AuditRecords::AuditBatch b;
        b.entries.swap(pending_entries_);
        b.nodes.swap(pending_nodes_);
        return b;
      },
      [this](Status st, const store::AuditRecords::AuditBatch& b) {
        on_written(std::move(st), b);
        // The last touch of this object by the writer thread, under the lock the
        // destructor waits on.
        std::lock_guard lock(settled_mu_);
        --writes_outstanding_;
        settled_cv_.notify_all();
      });
}

void Log::on_written(Status st, const store::AuditRecords::AuditBatch& b) {
  bool more = false;
  {
    std::lock_guard lock(mu_);
    if (!st) {
      // Back to the front, in order: the frontier already covers these entries, and the
      // next write must carry them before anything appended later.
      pending_entries_.insert(pending_entries_.begin(), b.entries.begin(), b.entries.end());
      pending_nodes_.insert(pending_nodes_.begin(), b.nodes.begin(), b.nodes.end());
      in_flight_ = false;
      if (!failing_.exchange(true))
        log::error("audit_write_failed", {{"first_seq", b.entries.empty() ? durable_.load() : b.entries.front().seq},
                                          {"entries", pending_entries_.size()},
                                          {"error", st.error().message}});
      if (m_failures_) m_failures_->inc(b.entries.size());
      return;
    }
    if (failing_.exchange(false)) log::info("audit_write_recovered", {{"entries", b.entries.size()}});
    more = !pending_entries_.empty();
    in_flight_ = more;
  }
  if (!b.entries.empty()) {
    const std::uint64_t end = b.entries.back().seq + 1;
    std::uint64_t cur = durable_.load();
    while (cur < end && !durable_.compare_exchange_weak(cur, end)) {
    }
    settle(end);
  }
  if (more) write_pending();
}

std::string Log::signing_key_name(const std::string& log) {
  return log.empty() ? "_audit" : "_audit:" + log;
}

const std::string& Log::name() const {
  return store_.audit().audit_log_name();
}

Status Log::prepare_signing() {
  if (auto st = keys_.ensure_app_keys(std::string(kms::KeyService::kSystemApp)); !st) return st;
  if (auto st = keys_.ensure_signing_key(signing_key()); !st) return st;
  auto pem = keys_.public_key_pem(signing_key());
  if (!pem) return pem.error();
  auto logs = store_.audit().audit_logs();
  if (logs)
    for (const auto& l : *logs)
      if (l.name == name() && l.public_key == *pem) return ok_status();
  return store::wait_for([&](store::Completion done) { store_.audit().put_audit_log_key(*pem, std::move(done)); });
}

Status Log::checkpoint_if_due(bool force) {
  std::lock_guard lock(cp_mu_);
  std::uint64_t size = durable_.load();
  std::int64_t now = clock::unix_ms();
  if (size == 0 || size == last_checkpoint_size_) return ok_status();
  bool due = force || size - last_checkpoint_size_ >= opts_.checkpoint_every ||
             now - last_checkpoint_ms_ >= opts_.checkpoint_interval_ms;
  if (!due) return ok_status();
  auto head = tree_head(store_nodes(), size);
  if (!head) return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes");
  auto sig = keys_.sign(signing_key(), checkpoint_message(size, *head, now));
  if (!sig) return sig.error();
  auto st = store::wait_for([&](store::Completion done) {
    store_.audit().put_audit_checkpoint(store::AuditCheckpointRecord{size, hash_bytes(*head), now, *sig},
                                        std::move(done));
  });
  if (!st) return st;
  last_checkpoint_size_ = size;
  last_checkpoint_ms_ = now;
  if (m_checkpoints_) m_checkpoints_->inc();
  witness(Checkpoint{size, *head, now, *sig});
  return ok_status();
}

void Log::witness(const Checkpoint& cp) {
  if (opts_.witness_file.empty() && !witness_queue_) return;
  auto pem = keys_.public_key_pem(signing_key());
  std::string json =
      pem ? saved_checkpoint_json(SavedCheckpoint{cp.size, cp.root, cp.ts_ms, cp.signature, *pem, name()}) : "";
  if (witness_queue_) {
    if (json.empty()) {
      log::error("audit_witness_failed", {{"target", "witness_url"}, {"size", cp.size}});
    } else {
      witness_queue_->push(json);
    }
  }
  if (opts_.witness_file.empty()) return;
  std::string line = json.empty() ? "" : json + "\n";
  // O_APPEND: a witness only ever grows; fsync before the checkpoint counts as witnessed.
  int fd = line.empty() ? -1 : ::open(opts_.witness_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (ok) return;
  if (m_witness_failures_) m_witness_failures_->inc();
  log::error("audit_witness_failed", {{"path", opts_.witness_file}, {"size", cp.size}});
}

Result<std::optional<Checkpoint>> Log::latest_checkpoint() {
  auto cp = store_.audit().latest_audit_checkpoint();
  if (!cp) return cp.error();
  if (!*cp) return std::optional<Checkpoint>{};
  auto root = to_hash((*cp)->root);
  if (!root) return make_error(Errc::kAuditCorrupt, "a checkpoint's root is malformed");
  return std::optional<Checkpoint>(Checkpoint{(*cp)->size, *root, (*cp)->ts_ms, (*cp)->signature});
}

Result<std::vector<Hash>> Log::inclusion(std::uint64_t index, std::uint64_t size) {
  if (size > durable_.load() || index >= size)
    return make_error(Errc::kInvalidArgument, "the index must be below the size, and the size at most the log's");
  auto p = inclusion_proof(store_nodes(), index, size);
  if (!p) return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes");
  return *p;
}

Result<std::vector<Hash>> Log::consistency(std::uint64_t first, std::uint64_t second) {
  if (second > durable_.load() || first > second)
    return make_error(Errc::kInvalidArgument, "first must be at most second, and second at most the log's size");
  auto p = consistency_proof(store_nodes(), first, second);
  if (!p) return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes");
  return *p;
}

Result<Hash> Log::root(std::uint64_t size) {
  if (size > durable_.load()) return make_error(Errc::kInvalidArgument, "the size is beyond the log's");
  auto h = tree_head(store_nodes(), size);
  if (!h) return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes");
  return *h;
}

Result<std::vector<store::AuditEntryRecord>> Log::entries(std::uint64_t from, std::uint64_t count) {
  std::uint64_t size = durable_.load();
  if (from >= size) return std::vector<store::AuditEntryRecord>{};
  return store_.audit().audit_entries(from, std::min(count, size - from));
}

Result<std::uint64_t> Log::size_of(const std::string& log) {
  auto other = store_.audit().audit_log(log);
  if (!other) return make_error(Errc::kNotFound, "no audit log of this name");
  return other->audit_size();
}

Result<std::vector<store::AuditEntryRecord>> Log::entries_of(const std::string& log, std::uint64_t from,
                                                             std::uint64_t count) {
  auto other = store_.audit().audit_log(log);
  if (!other) return make_error(Errc::kNotFound, "no audit log of this name");
  return other->audit_entries(from, count);
}

Result<std::string> Log::public_key_pem() {
  // From the key service, never from the meta row: whoever can write the database could
  // put their own key there and re-sign checkpoints over rewritten entries.
  return keys_.public_key_pem(signing_key());
}

Result<std::optional<Checkpoint>> Log::verified_checkpoint() {
  auto cp = latest_checkpoint();
  if (!cp || !*cp) return cp;
  auto pem = public_key_pem();
  if (!pem) return pem.error();
  auto key = crypto::PublicKey::from_pem(*pem);
  if (!key) return key.error();
  if (!key->verify(checkpoint_message((*cp)->size, (*cp)->root, (*cp)->ts_ms), (*cp)->signature)) {
    log::error("audit_checkpoint_forged", {{"size", (*cp)->size}});
    return make_error(Errc::kAuditCorrupt, "the stored checkpoint's signature does not verify with the audit key");
  }
  return cp;
}

}  // namespace herald::audit

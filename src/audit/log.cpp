// Appends are serialised by one mutex held only for a hash, a frontier step and queueing
// the write: the store's writer commits in queue order, so the durable log is always a
// prefix of the appended one, and a checkpoint signs only what is durable.
#include "audit/log.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "kms/key_service.h"
#include "store/store.h"

namespace herald::audit {
namespace {

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
  }
}

Log::~Log() {
  stop();
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
  if (!f) return make_error(Errc::kAuditCorrupt, "the stored audit tree misses nodes; run `herald audit verify`");
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
  checkpointer_.start(std::chrono::seconds(1), [this] {
    if (keys_.sealed()) return;
    auto st = checkpoint_if_due(false);
    if (!st && st.error().code != Errc::kSealed) log::error("audit_checkpoint_failed", {{"error", st.error().message}});
  });
}

void Log::stop() {
  checkpointer_.stop();
}

bool Log::flush(std::chrono::milliseconds timeout) {
  std::uint64_t target = size();
  std::unique_lock lock(settled_mu_);
  return settled_cv_.wait_for(lock, timeout, [&] { return settled_ >= target; });
}

void Log::settle(std::uint64_t up_to) {
  {
    std::lock_guard lock(settled_mu_);
    settled_ = std::max(settled_, up_to);
  }
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
  std::int64_t now = clock::unix_ms();
  std::lock_guard lock(mu_);
  std::uint64_t seq = frontier_.size();
  std::string body = body_of(seq, now, e);
  Hash leaf = leaf_hash(body);
  for (const auto& n : frontier_.append(leaf))
    pending_nodes_.push_back(store::AuditNodeRecord{n.level, n.index, hash_bytes(n.hash)});
  pending_entries_.push_back(store::AuditEntryRecord{seq, hash_bytes(leaf), std::move(body)});
  if (m_entries_) m_entries_->inc();
  if (batch_queued_) return;
  batch_queued_ = true;
  store_.audit().append_audit_batch(
      [this] {
        // On the writer thread: take what accumulated; later entries queue a new batch.
        std::lock_guard l(mu_);
        store::AuditRecords::AuditBatch b;
        b.entries.swap(pending_entries_);
        b.nodes.swap(pending_nodes_);
        batch_queued_ = false;
        return b;
      },
      [this](Status st, const store::AuditRecords::AuditBatch& b) {
        if (b.entries.empty()) return;
        const std::uint64_t end = b.entries.back().seq + 1;
        if (!st) {
          if (m_failures_) m_failures_->inc(b.entries.size());
          log::error(
              "audit_write_failed",
              {{"first_seq", b.entries.front().seq}, {"entries", b.entries.size()}, {"error", st.error().message}});
        } else {
          std::uint64_t cur = durable_.load();
          while (cur < end && !durable_.compare_exchange_weak(cur, end)) {
          }
        }
        settle(end);
      });
}

Status Log::prepare_signing() {
  if (auto st = keys_.ensure_app_keys(std::string(kms::KeyService::kSystemApp)); !st) return st;
  if (auto st = keys_.ensure_signing_key(kSigningKey); !st) return st;
  auto pem = keys_.public_key_pem(kSigningKey);
  if (!pem) return pem.error();
  auto stored = store_.get_meta("audit_public_key");
  if (stored && stored->has_value() && **stored == *pem) return ok_status();
  return store::wait_for([&](store::Completion done) { store_.put_meta("audit_public_key", *pem, std::move(done)); });
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
  auto sig = keys_.sign(kSigningKey, checkpoint_message(size, *head, now));
  if (!sig) return sig.error();
  auto st = store::wait_for([&](store::Completion done) {
    store_.audit().put_audit_checkpoint(store::AuditCheckpointRecord{size, hash_bytes(*head), now, *sig},
                                        std::move(done));
  });
  if (!st) return st;
  last_checkpoint_size_ = size;
  last_checkpoint_ms_ = now;
  if (m_checkpoints_) m_checkpoints_->inc();
  return ok_status();
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

Result<std::string> Log::public_key_pem() {
  auto stored = store_.get_meta("audit_public_key");
  if (!stored) return stored.error();
  if (!stored->has_value()) return make_error(Errc::kNotFound, "no audit signing key yet (the log was never unsealed)");
  return **stored;
}

}  // namespace herald::audit

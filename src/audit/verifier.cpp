// The verifier trusts nothing in the store but the entries' text: leaf hashes, subtree
// hashes and checkpoint roots are all recomputed and compared, and signatures checked.
#include "audit/verifier.h"

#include <algorithm>
#include <boost/json.hpp>

#include "audit/log.h"
#include "crypto/encoding.h"
#include "crypto/signature.h"
#include "store/store.h"

namespace herald::audit {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kPage = 10'000;

std::string bytes_of(const Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

bool signature_ok(const std::string& pem, std::uint64_t size, const Hash& root, std::int64_t ts,
                  const std::string& sig) {
  auto key = crypto::PublicKey::from_pem(pem);
  return key && key->kind() == crypto::KeyKind::Ed25519 && key->verify(checkpoint_message(size, root, ts), sig);
}

}  // namespace

Result<SavedCheckpoint> parse_saved_checkpoint(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return make_error(Errc::kInvalidCheckpoint, "the checkpoint file is not a JSON object");
  const auto& o = v.get_object();
  try {
    SavedCheckpoint cp;
    // As an unsigned number: a negative size would wrap to a huge one that no log extends.
    cp.size = o.at("size").to_number<std::uint64_t>();
    auto root = hash_from_hex(std::string_view(o.at("root").as_string()));
    auto sig = crypto::base64_decode(std::string_view(o.at("signature").as_string()));
    if (!root || !sig) throw std::runtime_error("bad field");
    cp.root = *root;
    cp.signature = *sig;
    cp.ts_ms = o.at("timestamp_ms").to_number<std::int64_t>();
    cp.public_key_pem = std::string(o.at("public_key").as_string());
    if (const auto* log = o.if_contains("log")) cp.log = std::string(log->as_string());
    return cp;
  } catch (const std::exception&) {
    return make_error(Errc::kInvalidCheckpoint,
                      "the checkpoint file needs size, root (hex), timestamp_ms, signature (base64) and public_key");
  }
}

std::string saved_checkpoint_json(const SavedCheckpoint& cp) {
  json::object o{{"size", cp.size},
                 {"root", to_hex(cp.root)},
                 {"timestamp_ms", cp.ts_ms},
                 {"signature", crypto::base64_encode(cp.signature)},
                 {"public_key", cp.public_key_pem}};
  if (!cp.log.empty()) o["log"] = cp.log;
  return json::serialize(o);
}

Result<std::vector<SavedCheckpoint>> parse_witness(std::string_view text) {
  std::vector<SavedCheckpoint> out;
  std::size_t line = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto one = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line;
    if (one.empty()) continue;
    auto cp = parse_saved_checkpoint(one);
    if (!cp)
      return make_error(Errc::kInvalidCheckpoint, "witness line " + std::to_string(line) + ": " + cp.error().message);
    out.push_back(std::move(*cp));
  }
  return out;
}

namespace {

// A checkpoint kept outside the store: the saved one, or a witness's.
struct External {
  const SavedCheckpoint* cp;
  bool witnessed;
};

// One pass over the log: rebuilds the tree entry by entry and checks each stored
// checkpoint, and the saved one, when the walk reaches its size. The first problem
// found is recorded in the report and ends the walk.
class Walk {
 public:
  Walk(store::AuditRecords& audit, const VerifyOptions& opts, std::vector<store::AuditCheckpointRecord> checkpoints,
       std::string pem)
      : audit_(audit), opts_(opts), checkpoints_(std::move(checkpoints)), pem_(std::move(pem)) {
    if (opts_.saved) external_.push_back(External{&*opts_.saved, false});
    for (const auto& w : opts_.witnessed) external_.push_back(External{&w, true});
    std::stable_sort(external_.begin(), external_.end(),
                     [](const External& a, const External& b) { return a.cp->size < b.cp->size; });
  }

  Result<VerifyReport> run(std::uint64_t total) {
    if (!checkpoints_hold()) return r_;  // size 0
    for (;;) {
      auto page = audit_.audit_entries(expected_, kPage);
      if (!page) return page.error();
      if (page->empty()) break;
      for (const auto& e : *page) {
        auto sound = entry_sound(e);
        if (!sound) return sound.error();
        if (!*sound) return r_;
        ++expected_;
        if (!checkpoints_hold()) return r_;
        if (opts_.progress && expected_ % kPage == 0) opts_.progress(expected_, total);
      }
    }
    finish();
    return r_;
  }

 private:
  // Records the problem; always false, for `return fail(...)`.
  bool fail(Errc code, std::string message, std::optional<std::uint64_t> at) {
    r_.ok = false;
    r_.problem = std::string(errc_code(code));
    r_.message = std::move(message);
    r_.first_bad_entry = at;
    return false;
  }

  // Whether what was signed at the current size matches the tree rebuilt so far.
  bool checkpoints_hold() {
    while (next_cp_ < checkpoints_.size() && checkpoints_[next_cp_].size == f_.size()) {
      const auto& cp = checkpoints_[next_cp_];
      if (cp.root != bytes_of(f_.root()))
        return fail(Errc::kCheckpointMismatch,
                    "the checkpoint at size " + std::to_string(cp.size) +
                        " does not match the entries: an entry before it was changed, removed or reordered",
                    cp.size - 1);
      if (pem_.empty() || cp.root.size() != 32 || !signature_ok(pem_, cp.size, f_.root(), cp.ts_ms, cp.signature))
        return fail(Errc::kCheckpointSignatureInvalid,
                    "the checkpoint at size " + std::to_string(cp.size) + " is not signed by the audit key",
                    cp.size - 1);
      ++r_.checkpoints;
      ++next_cp_;
    }
    while (next_ext_ < external_.size() && external_[next_ext_].cp->size == f_.size()) {
      const auto& [cp, witnessed] = external_[next_ext_];
      if (cp->root != f_.root())
        return fail(Errc::kNotExtension,
                    std::string("the log does not extend the ") + (witnessed ? "witnessed" : "saved") +
                        " checkpoint of size " + std::to_string(cp->size) + ": it was rewritten or replaced",
                    cp->size ? std::optional<std::uint64_t>(cp->size - 1) : std::nullopt);
      if (witnessed && !stored_at(cp->size, cp->root))
        return fail(Errc::kCheckpointDeleted,
                    "the witnessed checkpoint of size " + std::to_string(cp->size) +
                        " is no longer stored: checkpoints were deleted",
                    cp->size ? std::optional<std::uint64_t>(cp->size - 1) : std::nullopt);
      if (witnessed)
        ++r_.witnessed_checked;
      else
        r_.saved_checked = true;
      ++next_ext_;
    }
    return true;
  }

  // Whether entry `expected_` is in its place, unchanged, and the subtrees it completes
  // are stored with the right hashes; an error when the store cannot be read.
  Result<bool> entry_sound(const store::AuditEntryRecord& e) {
    const std::uint64_t at = expected_;
    if (e.seq != at) return fail(Errc::kEntryMissing, "entry " + std::to_string(at) + " is missing", at);
    json::error_code ec;
    auto body = json::parse(e.body, ec);
    if (ec || !body.is_object() || !body.get_object().contains("seq") || !body.get_object().at("seq").is_int64() ||
        static_cast<std::uint64_t>(body.get_object().at("seq").get_int64()) != at)
      return fail(Errc::kEntryOutOfPlace,
                  "entry " + std::to_string(at) + " holds another position's text: entries were moved", at);
    Hash leaf = leaf_hash(e.body);
    if (e.leaf_hash != bytes_of(leaf))
      return fail(Errc::kEntryChanged, "entry " + std::to_string(at) + " was changed", at);
    for (const auto& n : f_.append(leaf)) {
      auto stored = audit_.audit_node(n.level, n.index);
      if (!stored) return stored.error();
      if (!stored->has_value() || **stored != bytes_of(n.hash))
        return fail(Errc::kNodeChanged,
                    "the stored hash of entries " + std::to_string(n.index << n.level) + " to " +
                        std::to_string(((n.index + 1) << n.level) - 1) + " is wrong",
                    n.index << n.level);
    }
    return true;
  }

  // The whole log was read: it must still reach every checkpoint.
  void finish() {
    r_.entries = expected_;
    r_.root = f_.root();
    if (opts_.progress) opts_.progress(expected_, expected_);
    if (next_cp_ < checkpoints_.size()) {
      fail(Errc::kLogTruncated,
           "a checkpoint covers " + std::to_string(checkpoints_[next_cp_].size) + " entries but the log holds " +
               std::to_string(expected_) + ": its tail was removed",
           expected_);
      return;
    }
    if (next_ext_ < external_.size())
      fail(Errc::kLogTruncated,
           std::string("the ") + (external_[next_ext_].witnessed ? "witnessed" : "saved") + " checkpoint covers " +
               std::to_string(external_[next_ext_].cp->size) + " entries but the log holds " +
               std::to_string(expected_) + ": its tail was removed",
           expected_);
  }

  bool stored_at(std::uint64_t size, const Hash& root) const {
    for (const auto& c : checkpoints_)
      if (c.size == size && c.root == bytes_of(root)) return true;
    return false;
  }

  store::AuditRecords& audit_;
  const VerifyOptions& opts_;
  std::vector<store::AuditCheckpointRecord> checkpoints_;
  std::string pem_;
  VerifyReport r_;
  Frontier f_;
  std::size_t next_cp_ = 0;
  std::vector<External> external_;  // by size
  std::size_t next_ext_ = 0;
  std::uint64_t expected_ = 0;
};

}  // namespace

Result<VerifyReport> verify_log(store::Store& store, const VerifyOptions& opts) {
  auto& audit = store.audit();
  std::string stored;
  auto logs = audit.audit_logs();
  if (!logs) return logs.error();
  for (const auto& l : *logs)
    if (l.name == audit.audit_log_name()) stored = l.public_key;
  return verify_log(audit, stored, opts);
}

Result<VerifyReport> verify_log(store::AuditRecords& audit, const std::string& stored_key, const VerifyOptions& opts) {
  auto total = audit.audit_size();
  if (!total) return total.error();
  auto checkpoints = audit.audit_checkpoints();
  if (!checkpoints) return checkpoints.error();
  // The caller's key, or the one the store names (not a pin).
  std::string pem = opts.public_key_pem.empty() ? stored_key : opts.public_key_pem;
  if (opts.saved && !signature_ok(opts.saved->public_key_pem, opts.saved->size, opts.saved->root, opts.saved->ts_ms,
                                  opts.saved->signature))
    return make_error(Errc::kInvalidCheckpoint, "the saved checkpoint's signature does not verify with its own key");
  for (const auto& w : opts.witnessed) {
    // A pinned key is what the witness must have been signed with; without one, each
    // line's own key (which the witness recorded when it was written).
    const std::string& key = opts.public_key_pem.empty() ? w.public_key_pem : opts.public_key_pem;
    if (!signature_ok(key, w.size, w.root, w.ts_ms, w.signature))
      return make_error(Errc::kInvalidCheckpoint, "the witnessed checkpoint of size " + std::to_string(w.size) +
                                                      " is not signed by the audit key");
  }
  return Walk(audit, opts, std::move(*checkpoints), std::move(pem)).run(*total);
}

}  // namespace herald::audit

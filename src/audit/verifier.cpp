// The verifier trusts nothing in the store but the entries' text: leaf hashes, subtree
// hashes and checkpoint roots are all recomputed and compared, and signatures checked.
#include "audit/verifier.h"

#include <boost/json.hpp>

#include "audit/log.h"
#include "crypto/encoding.h"
#include "crypto/signature.h"
#include "store/store.h"

namespace herald::audit {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kPage = 10'000;

std::string bytes_of(const Hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }

bool signature_ok(const std::string& pem, std::uint64_t size, const Hash& root, std::int64_t ts,
                  const std::string& sig) {
  auto key = crypto::PublicKey::from_pem(pem);
  return key && key->kind() == crypto::KeyKind::Ed25519 && key->verify(checkpoint_message(size, root, ts), sig);
}

}  // namespace

Result<SavedCheckpoint> parse_saved_checkpoint(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return make_error("invalid_checkpoint", "the checkpoint file is not a JSON object");
  const auto& o = v.get_object();
  try {
    SavedCheckpoint cp;
    cp.size = static_cast<std::uint64_t>(o.at("size").to_number<std::int64_t>());
    auto root = hash_from_hex(std::string_view(o.at("root").as_string()));
    auto sig = crypto::base64_decode(std::string_view(o.at("signature").as_string()));
    if (!root || !sig) throw std::runtime_error("bad field");
    cp.root = *root;
    cp.signature = *sig;
    cp.ts_ms = o.at("timestamp_ms").to_number<std::int64_t>();
    cp.public_key_pem = std::string(o.at("public_key").as_string());
    return cp;
  } catch (const std::exception&) {
    return make_error("invalid_checkpoint",
                      "the checkpoint file needs size, root (hex), timestamp_ms, signature (base64) and public_key");
  }
}

std::string saved_checkpoint_json(const SavedCheckpoint& cp) {
  return json::serialize(json::object{{"size", cp.size},
                                      {"root", to_hex(cp.root)},
                                      {"timestamp_ms", cp.ts_ms},
                                      {"signature", crypto::base64_encode(cp.signature)},
                                      {"public_key", cp.public_key_pem}});
}

Result<VerifyReport> verify_log(store::Store& store, const VerifyOptions& opts) {
  auto& audit = store.audit();
  VerifyReport r;
  auto fail = [&](std::string code, std::string message, std::optional<std::uint64_t> at) {
    r.ok = false;
    r.problem = std::move(code);
    r.message = std::move(message);
    r.first_bad_entry = at;
    return r;
  };
  auto total = audit.audit_size();
  if (!total) return total.error();
  auto checkpoints = audit.audit_checkpoints();
  if (!checkpoints) return checkpoints.error();
  std::string pem = opts.public_key_pem;
  if (pem.empty()) {
    auto stored = store.get_meta("audit_public_key");
    if (!stored) return stored.error();
    if (stored->has_value()) pem = **stored;
  }
  if (opts.saved && !signature_ok(opts.saved->public_key_pem, opts.saved->size, opts.saved->root, opts.saved->ts_ms,
                                  opts.saved->signature))
    return make_error("invalid_checkpoint", "the saved checkpoint's signature does not verify with its own key");

  Frontier f;
  std::size_t next_cp = 0;
  auto check_checkpoints = [&]() -> bool {
    while (next_cp < checkpoints->size() && (*checkpoints)[next_cp].size == f.size()) {
      const auto& cp = (*checkpoints)[next_cp];
      if (cp.root != bytes_of(f.root())) {
        fail("checkpoint_mismatch",
             "the checkpoint at size " + std::to_string(cp.size) +
                 " does not match the entries: an entry before it was changed, removed or reordered",
             cp.size - 1);
        return false;
      }
      if (pem.empty() || cp.root.size() != 32 ||
          !signature_ok(pem, cp.size, f.root(), cp.ts_ms, cp.signature)) {
        fail("checkpoint_signature_invalid",
             "the checkpoint at size " + std::to_string(cp.size) + " is not signed by the audit key", cp.size - 1);
        return false;
      }
      ++r.checkpoints;
      ++next_cp;
    }
    if (opts.saved && opts.saved->size == f.size()) {
      if (opts.saved->root != f.root()) {
        fail("not_extension",
             "the log does not extend the saved checkpoint of size " + std::to_string(opts.saved->size) +
                 ": it was rewritten or replaced",
             opts.saved->size ? std::optional<std::uint64_t>(opts.saved->size - 1) : std::nullopt);
        return false;
      }
      r.saved_checked = true;
    }
    return true;
  };
  if (!check_checkpoints()) return r;  // size 0

  std::uint64_t expected = 0;
  for (;;) {
    auto page = audit.audit_entries(expected, kPage);
    if (!page) return page.error();
    if (page->empty()) break;
    for (const auto& e : *page) {
      if (e.seq != expected)
        return fail("entry_missing", "entry " + std::to_string(expected) + " is missing", expected);
      json::error_code ec;
      auto body = json::parse(e.body, ec);
      if (ec || !body.is_object() || !body.get_object().contains("seq") ||
          !body.get_object().at("seq").is_int64() ||
          static_cast<std::uint64_t>(body.get_object().at("seq").get_int64()) != expected)
        return fail("entry_out_of_place",
                    "entry " + std::to_string(expected) + " holds another position's text: entries were moved",
                    expected);
      Hash leaf = leaf_hash(e.body);
      if (e.leaf_hash != bytes_of(leaf))
        return fail("entry_changed", "entry " + std::to_string(expected) + " was changed", expected);
      for (const auto& n : f.append(leaf)) {
        auto stored = audit.audit_node(n.level, n.index);
        if (!stored) return stored.error();
        if (!stored->has_value() || **stored != bytes_of(n.hash))
          return fail("node_changed",
                      "the stored hash of entries " + std::to_string(n.index << n.level) + " to " +
                          std::to_string(((n.index + 1) << n.level) - 1) + " is wrong",
                      n.index << n.level);
      }
      ++expected;
      if (!check_checkpoints()) return r;
      if (opts.progress && expected % kPage == 0) opts.progress(expected, *total);
    }
  }
  r.entries = expected;
  r.root = f.root();
  if (opts.progress) opts.progress(expected, expected);
  if (next_cp < checkpoints->size())
    return fail("log_truncated",
                "a checkpoint covers " + std::to_string((*checkpoints)[next_cp].size) + " entries but the log holds " +
                    std::to_string(expected) + ": its tail was removed",
                expected);
  if (opts.saved && opts.saved->size > expected)
    return fail("log_truncated",
                "the saved checkpoint covers " + std::to_string(opts.saved->size) + " entries but the log holds " +
                    std::to_string(expected),
                expected);
  return r;
}

}  // namespace herald::audit

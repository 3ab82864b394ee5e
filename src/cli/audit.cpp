// `herald audit verify|export|pubkey|checkpoint`: read a data dir's audit log directly
// (the server may be running: SQLite readers do not block it). Verification needs no
// key service: it recomputes the tree and checks signatures with the public key.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "audit/log.h"
#include "audit/verifier.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "crypto/encoding.h"
#include "store/store.h"

namespace herald::cli {
namespace {

Result<std::unique_ptr<store::Store>> open_db(const std::string& dir) {
  if (::access((dir + "/herald.db").c_str(), R_OK) != 0)
    return make_error(Errc::kNotFound, "no Herald database in " + dir);
  return store::open_store("sqlite", store::StoreOptions{dir, 64, nullptr});
}

std::string slurp(const std::string& path, bool& ok) {
  std::ifstream f(path, std::ios::binary);
  ok = f.good();
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int fail(const std::string& message) {
  std::fprintf(stderr, "herald: %s\n", message.c_str());
  return 1;
}

// A one-line progress bar on a terminal's stderr.
void progress(std::uint64_t done, std::uint64_t total) {
  static const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (!tty || total == 0) return;
  int width = 40, filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width);
  std::fprintf(stderr, "\r[%s%s] %llu/%llu entries", std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
  if (done >= total) std::fprintf(stderr, "\n");
}

struct AuditFlags {
  std::string data_dir = default_data_dir();
  std::string checkpoint_file, key_file, witness_file, out;
  bool json = false;
  std::uint64_t from = 0, count = 0;
};

int run_verify(store::Store& store, const AuditFlags& o) {
  audit::VerifyOptions vo;
  vo.progress = o.json ? nullptr : progress;
  if (!o.key_file.empty()) {
    bool ok = false;
    vo.public_key_pem = slurp(o.key_file, ok);
    if (!ok) return fail("cannot read " + o.key_file);
  } else {
    // Loud, even with --json: the stored key proves nothing against whoever can write the
    // database, since they could have replaced it and re-signed every checkpoint.
    std::fprintf(stderr,
                 "herald: WARNING: no --public-key given: checkpoints are checked with the public key stored in the "
                 "database being verified, which anyone able to rewrite the database can replace; pin the key "
                 "(herald audit pubkey, kept outside the server)\n");
  }
  if (!o.witness_file.empty()) {
    bool ok = false;
    auto text = slurp(o.witness_file, ok);
    if (!ok) return fail("cannot read " + o.witness_file);
    auto w = audit::parse_witness(text);
    if (!w) return fail(w.error().message);
    vo.witnessed = std::move(*w);
  }
  if (!o.checkpoint_file.empty()) {
    bool ok = false;
    auto text = slurp(o.checkpoint_file, ok);
    if (!ok) return fail("cannot read " + o.checkpoint_file);
    auto saved = audit::parse_saved_checkpoint(text);
    if (!saved) return fail(saved.error().message);
    vo.saved = *saved;
  }
  auto r = audit::verify_log(store, vo);
  store.close();
  if (!r) return fail(r.error().message);
  if (o.json) {
    std::string line = "{\"ok\":" + std::string(r->ok ? "true" : "false") +
                       ",\"entries\":" + std::to_string(r->entries) +
                       ",\"checkpoints\":" + std::to_string(r->checkpoints) +
                       ",\"saved_checkpoint_checked\":" + (r->saved_checked ? "true" : "false") +
                       ",\"witnessed_checked\":" + std::to_string(r->witnessed_checked);
    if (r->ok) line += ",\"root\":\"" + audit::to_hex(r->root) + "\"";
    if (!r->ok) {
      line += ",\"problem\":\"" + r->problem + "\",\"message\":\"" + r->message + "\"";
      if (r->first_bad_entry) line += ",\"first_bad_entry\":" + std::to_string(*r->first_bad_entry);
    }
    std::printf("%s}\n", line.c_str());
  } else if (r->ok) {
    std::printf("audit log verified: %llu entries, %llu signed checkpoints%s, root %s\n",
                static_cast<unsigned long long>(r->entries), static_cast<unsigned long long>(r->checkpoints),
                r->saved_checked ? ", consistent with the saved checkpoint" : "", audit::to_hex(r->root).c_str());
  } else {
    std::fprintf(stderr, "audit log FAILED verification: %s (%s)%s\n", r->message.c_str(), r->problem.c_str(),
                 r->first_bad_entry ? (", first bad entry " + std::to_string(*r->first_bad_entry)).c_str() : "");
  }
  return r->ok ? 0 : 1;
}

// JSON lines, read in pages so that a long log never sits in memory whole.
int run_export(store::Store& store, std::uint64_t from, std::uint64_t count) {
  std::uint64_t at = from, left = count ? count : ~std::uint64_t{0};
  while (left > 0) {
    auto page = store.audit().audit_entries(at, std::min<std::uint64_t>(left, 10'000));
    if (!page) return fail(page.error().message);
    if (page->empty()) break;
    for (const auto& e : *page) {
      std::printf("{\"index\":%llu,\"leaf_hash\":\"%s\",\"entry\":%s}\n", static_cast<unsigned long long>(e.seq),
                  crypto::hex_encode(e.leaf_hash).c_str(), e.body.c_str());
      at = e.seq + 1;
      --left;
    }
  }
  store.close();
  return 0;
}

}  // namespace

std::function<int()> add_audit(CLI::App& app) {
  auto* cmd = app.add_subcommand("audit", "Verify and read the tamper-evident audit log");
  cmd->require_subcommand(1);
  auto o = std::make_shared<AuditFlags>();
  auto* verify = cmd->add_subcommand("verify", "Recompute the Merkle tree and check every entry and checkpoint");
  verify->add_option("--data-dir", o->data_dir, "Data directory (default: $HERALD_STORE_DATA_DIR or ./data)");
  verify->add_option("--from-checkpoint", o->checkpoint_file,
                     "A checkpoint saved earlier (herald audit checkpoint): the log must extend it");
  verify->add_option("--public-key", o->key_file,
                     "Check checkpoints with this pinned PEM key (without it, the key stored in the database is "
                     "trusted, with a warning)");
  verify->add_option(
      "--witness", o->witness_file,
      "A witness file (audit.witness_file): the log must extend, and still store, each checkpoint in it");
  verify->add_flag("--json", o->json, "Machine-readable output");
  auto* exp = cmd->add_subcommand("export", "Write entries as JSON lines (for a SIEM)");
  exp->add_option("--data-dir", o->data_dir, "Data directory");
  exp->add_option("--from", o->from, "First entry index (default 0)");
  exp->add_option("--count", o->count, "At most this many entries (default all)");
  auto* pub = cmd->add_subcommand("pubkey", "Print the public key that signs checkpoints (PEM)");
  pub->add_option("--data-dir", o->data_dir, "Data directory");
  auto* cp = cmd->add_subcommand("checkpoint", "Print the latest signed checkpoint, to keep outside the server");
  cp->add_option("--data-dir", o->data_dir, "Data directory");

  return [o, verify, exp, pub, cp]() -> int {
    auto db = open_db(o->data_dir);
    if (!db) return fail(db.error().message);
    auto& store = **db;
    if (verify->parsed()) return run_verify(store, *o);
    if (exp->parsed()) return run_export(store, o->from, o->count);
    if (pub->parsed()) {
      auto pem = store.get_meta("audit_public_key");
      store.close();
      if (!pem || !pem->has_value()) return fail("no audit signing key yet: the key service was never unsealed");
      std::fputs((*pem)->c_str(), stdout);
      return 0;
    }
    if (cp->parsed()) {
      auto latest = store.audit().latest_audit_checkpoint();
      auto pem = store.get_meta("audit_public_key");
      store.close();
      if (!latest || !*latest) return fail("no checkpoint has been signed yet");
      if (!pem || !pem->has_value()) return fail("no audit signing key");
      audit::SavedCheckpoint s{(*latest)->size, {}, (*latest)->ts_ms, (*latest)->signature, **pem};
      std::copy((*latest)->root.begin(), (*latest)->root.end(), s.root.begin());
      std::printf("%s\n", audit::saved_checkpoint_json(s).c_str());
      return 0;
    }
    return 2;
  };
}

}  // namespace herald::cli

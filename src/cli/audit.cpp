// `herald audit verify|export|pubkey|checkpoint`: read the audit logs in the store directly
// (the server may be running: readers do not block it): a data dir's one SQLite log, or
// every node's log in a cluster's PostgreSQL database. Verification needs no key
// service: it recomputes each tree and checks signatures with the log's public key.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "audit/log.h"
#include "audit/verifier.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/store_flags.h"
#include "crypto/encoding.h"
#include "store/store.h"

namespace herald::cli {
namespace {

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
  StoreFlags store;
  std::string log;                     // one log by name; default: every log (verify) or the only one
  std::vector<std::string> key_files;  // FILE (every log) or NAME=FILE
  std::string checkpoint_file, witness_file, out;
  bool json = false;
  std::uint64_t from = 0, count = 0;
};

// The logs to read: the one --log names, else every log in the store.
Result<std::vector<store::AuditLogRecord>> chosen_logs(store::Store& store, const AuditFlags& o) {
  auto logs = store.audit().audit_logs();
  if (!logs) return logs.error();
  if (o.log.empty() && store_driver(o.store) != "postgres") return std::vector<store::AuditLogRecord>{logs->front()};
  if (o.log.empty()) return logs;
  for (auto& l : *logs)
    if (l.name == o.log) return std::vector<store::AuditLogRecord>{l};
  return make_error(Errc::kNotFound, "no audit log named " + o.log + " in the store");
}

// The one log a command reads: --log, else the store's only one.
Result<store::AuditLogRecord> one_log(store::Store& store, const AuditFlags& o) {
  auto logs = chosen_logs(store, o);
  if (!logs) return logs.error();
  if (logs->size() == 1) return logs->front();
  std::string names;
  for (const auto& l : *logs) names += " " + l.name;
  return make_error(Errc::kInvalidArgument, logs->empty()
                                                ? "the store holds no audit log yet"
                                                : "the store holds several audit logs; name one with --log:" + names);
}

// The pinned key of `log`: a NAME=FILE for it, else a plain FILE; empty: none pinned.
Result<std::string> pinned_key(const AuditFlags& o, const std::string& log) {
  std::string file;
  for (const auto& k : o.key_files) {
    auto eq = k.find('=');
    if (eq == std::string::npos && file.empty()) file = k;
    if (eq != std::string::npos && k.substr(0, eq) == log) file = k.substr(eq + 1);
  }
  if (file.empty()) return std::string();
  bool ok = false;
  auto pem = slurp(file, ok);
  if (!ok) return make_error(Errc::kNotFound, "cannot read " + file);
  return pem;
}

// The checkpoints kept outside the server (--witness, --from-checkpoint): one log's.
Result<audit::VerifyOptions> outside_checkpoints(const AuditFlags& o) {
  audit::VerifyOptions vo;
  vo.progress = o.json ? nullptr : progress;
  if (!o.witness_file.empty()) {
    bool ok = false;
    auto text = slurp(o.witness_file, ok);
    if (!ok) return make_error(Errc::kNotFound, "cannot read " + o.witness_file);
    auto w = audit::parse_witness(text);
    if (!w) return w.error();
    vo.witnessed = std::move(*w);
  }
  if (!o.checkpoint_file.empty()) {
    bool ok = false;
    auto text = slurp(o.checkpoint_file, ok);
    if (!ok) return make_error(Errc::kNotFound, "cannot read " + o.checkpoint_file);
    auto saved = audit::parse_saved_checkpoint(text);
    if (!saved) return saved.error();
    vo.saved = *saved;
  }
  return vo;
}

// One log's verdict: a JSON line, or a line of text (stdout when it holds, stderr not).
void print_verdict(const std::string& log, bool named, const audit::VerifyReport& r, bool as_json) {
  if (as_json) {
    boost::json::object o{{"ok", r.ok},
                          {"log", log},
                          {"entries", r.entries},
                          {"checkpoints", r.checkpoints},
                          {"saved_checkpoint_checked", r.saved_checked},
                          {"witnessed_checked", r.witnessed_checked}};
    if (r.ok) o["root"] = audit::to_hex(r.root);
    if (!r.ok) {
      o["problem"] = r.problem;
      o["message"] = r.message;
      if (r.first_bad_entry) o["first_bad_entry"] = *r.first_bad_entry;
    }
    std::printf("%s\n", boost::json::serialize(o).c_str());
    return;
  }
  std::string which = named ? "audit log " + log : "audit log";
  if (r.ok) {
    std::printf("%s verified: %llu entries, %llu signed checkpoints%s, root %s\n", which.c_str(),
                static_cast<unsigned long long>(r.entries), static_cast<unsigned long long>(r.checkpoints),
                r.saved_checked ? ", consistent with the saved checkpoint" : "", audit::to_hex(r.root).c_str());
  } else {
    std::fprintf(stderr, "%s FAILED verification: %s (%s)%s\n", which.c_str(), r.message.c_str(), r.problem.c_str(),
                 r.first_bad_entry ? (", first bad entry " + std::to_string(*r.first_bad_entry)).c_str() : "");
  }
}

int run_verify(store::Store& store, const AuditFlags& o) {
  auto logs = chosen_logs(store, o);
  if (!logs) return fail(logs.error().message);
  auto outside = outside_checkpoints(o);
  if (!outside) return fail(outside.error().message);
  if (logs->size() > 1 && outside->saved) return fail("a saved checkpoint pins one log: name it with --log");
  if (logs->empty()) std::fprintf(stderr, "herald: the store holds no audit log yet\n");
  const bool named = store_driver(o.store) == "postgres";
  bool all_ok = true;
  for (const auto& l : *logs) {
    auto vo = *outside;
    // A witness may keep several nodes' checkpoints: each log is checked against its own.
    std::erase_if(vo.witnessed, [&](const audit::SavedCheckpoint& w) { return w.log != l.name; });
    if (vo.saved && vo.saved->log != l.name)
      return fail("the saved checkpoint pins the log " + (vo.saved->log.empty() ? "\"\"" : vo.saved->log) + ", not " +
                  (l.name.empty() ? "\"\"" : l.name));
    auto pin = pinned_key(o, l.name);
    if (!pin) return fail(pin.error().message);
    vo.public_key_pem = *pin;
    if (pin->empty())
      // Loud, even with --json: the stored key proves nothing against whoever can write the
      // database, since they could have replaced it and re-signed every checkpoint.
      std::fprintf(stderr,
                   "herald: WARNING: no --public-key given%s: checkpoints are checked with the public key stored in "
                   "the database being verified, which anyone able to rewrite the database can replace; pin the key "
                   "(herald audit pubkey, kept outside the server)\n",
                   named ? (" for log " + l.name).c_str() : "");
    auto log = store.audit().audit_log(l.name);
    if (!log) return fail("cannot open audit log " + l.name);
    auto r = audit::verify_log(*log, l.public_key, vo);
    if (!r) return fail(r.error().message);
    print_verdict(l.name, named, *r, o.json);
    all_ok = all_ok && r->ok;
  }
  store.close();
  return all_ok ? 0 : 1;
}

// JSON lines, read in pages so that a long log never sits in memory whole.
int run_export(store::AuditRecords& log, std::uint64_t from, std::uint64_t count) {
  std::uint64_t at = from, left = count ? count : ~std::uint64_t{0};
  while (left > 0) {
    auto page = log.audit_entries(at, std::min<std::uint64_t>(left, 10'000));
    if (!page) return fail(page.error().message);
    if (page->empty()) break;
    for (const auto& e : *page) {
      std::printf("{\"index\":%llu,\"leaf_hash\":\"%s\",\"entry\":%s}\n", static_cast<unsigned long long>(e.seq),
                  crypto::hex_encode(e.leaf_hash).c_str(), e.body.c_str());
      at = e.seq + 1;
      --left;
    }
  }
  return 0;
}

// `pubkey`, `checkpoint` and `export` read one log.
int run_one(store::Store& store, const AuditFlags& o, bool pubkey, bool checkpoint) {
  auto l = one_log(store, o);
  if (!l) return fail(l.error().message);
  auto log = store.audit().audit_log(l->name);
  if (!log) return fail("cannot open audit log " + l->name);
  if (!pubkey && !checkpoint) return run_export(*log, o.from, o.count);
  if (l->public_key.empty()) return fail("no audit signing key yet: the key service was never unsealed");
  if (pubkey) {
    std::fputs(l->public_key.c_str(), stdout);
    return 0;
  }
  auto latest = log->latest_audit_checkpoint();
  if (!latest || !*latest) return fail("no checkpoint has been signed yet");
  audit::SavedCheckpoint s{(*latest)->size, {}, (*latest)->ts_ms, (*latest)->signature, l->public_key, l->name};
  std::copy((*latest)->root.begin(), (*latest)->root.end(), s.root.begin());
  std::printf("%s\n", audit::saved_checkpoint_json(s).c_str());
  return 0;
}

}  // namespace

std::function<int()> add_audit(CLI::App& app) {
  auto* cmd = app.add_subcommand("audit", "Verify and read the tamper-evident audit log");
  cmd->require_subcommand(1);
  auto o = std::make_shared<AuditFlags>();
  auto* verify = cmd->add_subcommand("verify", "Recompute each log's Merkle tree and check every entry and checkpoint");
  add_store_flags(verify, o->store);
  verify->add_option("--log", o->log, "Verify only this node's log (default: every log in the store)");
  verify->add_option("--from-checkpoint", o->checkpoint_file,
                     "A checkpoint saved earlier (herald audit checkpoint): the log must extend it");
  verify->add_option("--public-key", o->key_files,
                     "Check checkpoints with this pinned PEM key: FILE, or NAME=FILE for node NAME's log (repeat "
                     "for each node); without one, the key stored in the database is trusted, with a warning");
  verify->add_option(
      "--witness", o->witness_file,
      "A witness file (audit.witness_file): the log must extend, and still store, each checkpoint in it");
  verify->add_flag("--json", o->json, "Machine-readable output: one JSON line per log");
  auto* exp = cmd->add_subcommand("export", "Write entries as JSON lines (for a SIEM)");
  add_store_flags(exp, o->store);
  exp->add_option("--log", o->log, "The node whose log to read (needed when the store holds several)");
  exp->add_option("--from", o->from, "First entry index (default 0)");
  exp->add_option("--count", o->count, "At most this many entries (default all)");
  auto* pub = cmd->add_subcommand("pubkey", "Print the public key that signs a log's checkpoints (PEM)");
  add_store_flags(pub, o->store);
  pub->add_option("--log", o->log, "The node whose key to print (needed when the store holds several logs)");
  auto* cp = cmd->add_subcommand("checkpoint", "Print a log's latest signed checkpoint, to keep outside the server");
  add_store_flags(cp, o->store);
  cp->add_option("--log", o->log, "The node whose checkpoint to print (needed when the store holds several logs)");

  return [o, verify, pub, cp]() -> int {
    auto db = open_cli_store(o->store, false);
    if (!db) return fail(db.error().message);
    auto& store = **db;
    if (verify->parsed()) return run_verify(store, *o);
    int rc = run_one(store, *o, pub->parsed(), cp->parsed());
    store.close();
    return rc;
  };
}

}  // namespace herald::cli

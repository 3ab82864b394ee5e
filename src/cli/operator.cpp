// `herald operator init|unseal|seal|status`: the key service's root key. `init` works on
// a data dir (the server stopped) and shows the shares once; the others talk to the
// running server. A share is read from a file or from standard input (without echo on a
// terminal), never from a flag, which other users could see in the process list.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "cli/store_flags.h"
#include "kms/key_service.h"
#include "kms/shamir.h"
#include "store/store.h"

namespace herald::cli {
namespace {

namespace json = boost::json;

json::object status_json(const sdk::SealStatus& s) {
  return json::object{{"initialized", s.initialized},
                      {"sealed", s.sealed},
                      {"threshold", s.threshold},
                      {"shares", s.shares},
                      {"progress", s.progress}};
}

void print_status(const sdk::SealStatus& s, bool as_json) {
  if (as_json) {
    std::printf("%s\n", json::serialize(status_json(s)).c_str());
    return;
  }
  if (!s.initialized) {
    std::printf("not initialised: run `herald operator init` on the data dir\n");
  } else if (s.sealed) {
    std::printf("sealed: %u of %u shares given (threshold %u of %u)\n", s.progress, s.threshold, s.threshold, s.shares);
  } else {
    std::printf("unsealed (threshold %u of %u)\n", s.threshold, s.shares);
  }
}

// One line of standard input, not echoed when it is a terminal.
std::string read_share_from_stdin() {
  bool tty = ::isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::fprintf(stderr, "share: ");
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

int run_init(const StoreFlags& where, unsigned shares, unsigned threshold, const std::string& share_dir, bool as_json) {
  // In a cluster, once for the shared database: every node unseals with the same shares.
  auto db = open_cli_store(where, true);
  if (!db) {
    std::fprintf(stderr, "herald: %s\n", db.error().message.c_str());
    return kExitFailed;
  }
  auto made = kms::KeyService::initialize(**db, shares, threshold);
  (*db)->close();
  if (!made) {
    std::fprintf(stderr, "herald: %s\n", made.error().message.c_str());
    return made.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  json::array listed;
  for (const auto& s : *made) {
    std::string text(kms::format_share(s).view());  // printed or written below, as the operator asked
    if (!share_dir.empty()) {
      std::string path = share_dir + "/share-" + std::to_string(s.x) + ".txt";
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      std::string line = text + "\n";
      bool ok = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      if (fd >= 0) ::close(fd);
      if (!ok) {
        std::fprintf(stderr, "herald: cannot write %s (it must not exist yet)\n", path.c_str());
        return kExitFailed;
      }
      listed.push_back(json::string(path));
    } else {
      listed.push_back(json::string(text));
    }
  }
  if (threshold == 1)
    std::fprintf(stderr,
                 "WARNING: with --threshold 1 every share IS the root key: anyone holding one can unseal.\n"
                 "Use a threshold of 2 or more outside development.\n");
  if (as_json) {
    std::printf("%s\n", json::serialize(json::object{{"shares", shares},
                                                     {"threshold", threshold},
                                                     {share_dir.empty() ? "share_values" : "share_files", listed}})
                            .c_str());
    return kExitOk;
  }
  std::printf("Key service initialised: %u share%s, any %u of which unseal it.\n", shares, shares == 1 ? "" : "s",
              threshold);
  std::printf(share_dir.empty() ? "The shares, shown this once; give each to a different holder:\n"
                                : "Each share is in its own file (mode 0600); give each to a different holder:\n");
  for (const auto& v : listed) std::printf("  %s\n", std::string(v.as_string()).c_str());
  std::printf("%s", threshold == 1 ? "The root key is on disk nowhere, but each share above is the root key itself.\n"
                                   : "The root key itself is stored nowhere.\n");
  std::printf("Start `herald serve`, then unseal it with `herald operator unseal` once per share holder.\n");
  return kExitOk;
}

}  // namespace

std::function<int()> add_operator(CLI::App& app) {
  auto* cmd = app.add_subcommand("operator", "Initialise, unseal and seal the key service");
  cmd->require_subcommand(1);
  struct Opts {
    StoreFlags store;
    unsigned shares = 5, threshold = 3;
    std::string share_dir;
    bool json = false;
    std::string share_file;
    bool reset = false;
    ConnectionFlags conn;
    AdminFlags admin;
  };
  auto o = std::make_shared<Opts>();
  auto* init = cmd->add_subcommand("init", "Make the root key of a new data dir and split it into shares (shown once)");
  add_store_flags(init, o->store);
  init->add_option("--shares", o->shares, "Shares to make (1-255, default 5)");
  init->add_option("--threshold", o->threshold, "Shares needed to unseal (default 3)");
  init->add_option("--share-dir", o->share_dir, "Write each share to <dir>/share-<n>.txt (0600) instead of printing");
  init->add_flag("--json", o->json, "Machine-readable output");
  auto* unseal = cmd->add_subcommand("unseal", "Give one share to the running server");
  unseal->add_option("--share-file", o->share_file, "Read the share from this file (default: standard input)");
  unseal->add_flag("--reset", o->reset, "Forget the shares given so far instead (the share proves the right to)");
  add_connection_flags(unseal, o->conn);
  auto* seal = cmd->add_subcommand("seal", "Make the running server forget its root key (needs the admin token)");
  add_admin_flags(seal, o->admin);
  auto* status = cmd->add_subcommand("status", "Show whether the server is sealed, and the unseal progress");
  add_connection_flags(status, o->conn);

  return [o, init, unseal, seal, status]() -> int {
    if (init->parsed()) return run_init(o->store, o->shares, o->threshold, o->share_dir, o->json);
    if (seal->parsed()) {
      auto opts = admin_options(o->admin);
      if (!opts) return usage_error(opts.error().message);
      sdk::OperatorClient client(std::move(*opts));
      auto r = client.seal();
      if (!r) return call_failed(r.error(), o->admin.conn.json);
      print_status(*r, o->admin.conn.json);
      return kExitOk;
    }
    auto conn = connection_options(o->conn);
    if (!conn) return usage_error(conn.error().message);
    sdk::OperatorClient client(sdk::AdminClientOptions{std::move(*conn), {}});
    if (status->parsed()) {
      auto r = client.status();
      if (!r) return call_failed(r.error(), o->conn.json);
      print_status(*r, o->conn.json);
      return kExitOk;
    }
    if (unseal->parsed()) {
      // A reset shows a share too: without one, anyone could keep the server sealed.
      sdk::SecretString share;
      if (!o->share_file.empty()) {
        auto s = read_secret_file(o->share_file);
        if (!s) return usage_error(s.error().message);
        share = std::move(*s);
      } else {
        share = sdk::SecretString(read_share_from_stdin());
      }
      if (share.empty()) return usage_error("no share given");
      auto r = o->reset ? client.reset_unseal(share) : client.unseal(share);
      if (!r) return call_failed(r.error(), o->conn.json);
      print_status(*r, o->conn.json);
      return kExitOk;
    }
    return kExitUsage;
  };
}

}  // namespace herald::cli

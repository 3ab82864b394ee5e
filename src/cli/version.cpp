// `herald version`: the version and what it was built with.
#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <cstdio>
#include <openssl/opensslv.h>
#include <sqlite3.h>

#include "cli/commands.h"

namespace herald::cli {

std::function<int()> add_version(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version and the libraries built in");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Machine-readable output");
  return [json] {
    if (*json) {
      std::printf("{\"version\":\"%s\",\"openssl\":\"%s\",\"sqlite\":\"%s\",\"boost\":\"%d.%d.%d\"}\n", HERALD_VERSION,
                  OPENSSL_FULL_VERSION_STR, sqlite3_libversion(), BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                  BOOST_VERSION % 100);
    } else {
      std::printf("herald %s\nOpenSSL %s, SQLite %s, Boost %d.%d.%d\n", HERALD_VERSION, OPENSSL_FULL_VERSION_STR,
                  sqlite3_libversion(), BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
    }
    return 0;
  };
}

}  // namespace herald::cli

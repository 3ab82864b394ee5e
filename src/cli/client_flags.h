// Flags and output shared by the subcommands that call a running server through the
// SDK (`herald publish`, `herald app ...`): where the server is, how to trust it, the
// credentials, and how errors are printed and mapped to exit codes.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "herald/client.h"

namespace CLI {
class App;
}

namespace herald::cli {

// Exit codes of the client subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the server refused, or the network failed
inline constexpr int kExitUsage = 2;   // bad flags, unreadable files, missing credentials

struct ConnectionFlags {
  std::string server = "https://127.0.0.1:8443";
  std::string ca_file;
  bool insecure = false;
  std::string timeout = "10s";
  bool json = false;
};

struct AdminFlags {
  ConnectionFlags conn;
  std::string token_file;
  std::string token;  // --admin-token: visible in the process list, documented as such
};

struct AppCredentialFlags {
  ConnectionFlags conn;
  std::string app_key;
  std::string secret_file;
};

// --server (HERALD_SERVER), --ca-file (HERALD_CA_FILE), --insecure, --timeout, --json.
void add_connection_flags(CLI::App* cmd, ConnectionFlags& f);
// The connection flags and --admin-token-file / --admin-token.
void add_admin_flags(CLI::App* cmd, AdminFlags& f);
// The connection flags and --app-key (HERALD_APP_KEY) / --app-secret-file.
void add_app_credential_flags(CLI::App* cmd, AppCredentialFlags& f);

// Resolved options, or a usage error ("invalid_argument") to print with exit code 2.
Result<sdk::ConnectionOptions> connection_options(const ConnectionFlags& f);
// The token from --admin-token-file, --admin-token, $HERALD_ADMIN_TOKEN or
// $HERALD_ADMIN_TOKEN_FILE, in that order.
Result<sdk::AdminClientOptions> admin_options(const AdminFlags& f);
// The secret from --app-secret-file, else $HERALD_APP_SECRET.
Result<sdk::ServerClientOptions> server_options(const AppCredentialFlags& f);

// The first line of a file that holds a secret, without its line ending.
Result<sdk::SecretString> read_secret_file(const std::string& path);

// Unix milliseconds as "2026-11-23T10:02:11Z"; "-" for 0 (never).
std::string utc_time(std::int64_t ms);

// The data dir of the offline commands: $HERALD_STORE_DATA_DIR, else ./data.
std::string default_data_dir();

// Prints a usage error ("herald: <message>") on stderr; returns kExitUsage.
int usage_error(const std::string& message);
// Prints a failed call (code, message, HTTP status, request id) on stderr, or as
// {"error": {...}} on stdout with --json; returns kExitFailed, or kExitUsage for input
// the SDK refused before sending (invalid_argument without an HTTP status).
int call_failed(const sdk::Error& e, bool json);

}  // namespace herald::cli

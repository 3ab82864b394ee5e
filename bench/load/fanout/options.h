// The fan-out generator's parameters, from its command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fanout {

enum class Proto { kHerald, kNats };

struct Target {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // "/ws", "/"
};

struct Options {
  std::string url;
  Target target;
  Proto proto = Proto::kHerald;
  int subscribers = 1000;
  int publishers = 1;
  std::uint64_t messages = 10000;
  double rate = 0;                   // messages/s over all publishers; 0 = as fast as allowed
  std::uint64_t max_inflight = 100;  // messages published but not yet delivered everywhere; 0 = no bound
  int batch = 1;                     // at most this many publishes per frame
  std::size_t size = 100;            // payload bytes
  int threads = 1;
  int sources = 1;
  int connect_concurrency = 256;
  std::string channel;  // Herald channel or NATS subject
  std::string app_key;
  std::string client_secret;
  std::string dev_app;
  std::string ca_file;
  int server_pid = 0;
  double timeout = 60;          // seconds from the first publish until the run ends regardless
  double drain = 5;             // seconds after the last publish to wait for stragglers
  double setup_timeout = 180;   // seconds for all connections to be set up
  double connect_timeout = 15;  // seconds for one connection to be set up (connected, subscribed)
  std::string json;
  std::string label;
  bool progress = true;
  bool beast_reader = false;  // one Beast read per message instead of batched reads
};

// Parses argv; on --help or a usage error prints to stdout/stderr and returns the exit
// status to end with.
std::optional<int> parse_options(int argc, char** argv, Options& o);

// Fills app_key/client_secret from --dev-app when given. Returns an error message or "".
std::string load_dev_app(Options& o);

const char* proto_name(Proto p);

}  // namespace fanout

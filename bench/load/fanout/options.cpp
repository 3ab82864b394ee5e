// Command line of bench_fanout (CLI11) and the --dev-app file reader.
#include "fanout/options.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fanout {
namespace {

// ws://host:port/path or wss://host:port/path; the port defaults to 80/443.
std::string parse_url(const std::string& url, Target& t) {
  std::string_view rest = url;
  if (rest.starts_with("ws://")) {
    t.tls = false;
    rest.remove_prefix(5);
  } else if (rest.starts_with("wss://")) {
    t.tls = true;
    rest.remove_prefix(6);
  } else {
    return "--url must start with ws:// or wss://";
  }
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    t.host = std::string(authority);
    t.port = t.tls ? 443 : 80;
  } else {
    t.host = std::string(authority.substr(0, colon));
    try {
      int port = std::stoi(std::string(authority.substr(colon + 1)));
      if (port <= 0 || port > 65535) return "--url: bad port";
      t.port = static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
      return "--url: bad port";
    }
  }
  if (t.host.empty()) return "--url: no host";
  return "";
}

}  // namespace

const char* proto_name(Proto p) {
  return p == Proto::kNats ? "nats" : "herald";
}

std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{
      "Fan-out load generator: N WebSocket subscribers on one channel, P publishers, "
      "delivered messages/s and publish-to-receive latency.",
      "bench_fanout"};
  app.get_formatter()->column_width(34);
  std::string proto = "herald";
  app.add_option("--url", o.url, "ws://HOST:PORT/PATH or wss://... (Herald: /ws; nats-server: /)")->required();
  app.add_option("--proto", proto, "herald or nats")->check(CLI::IsMember({"herald", "nats"}))->capture_default_str();
  app.add_option("-n,--subscribers", o.subscribers, "Subscriber connections")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--publishers", o.publishers, "Publisher connections (extra to the subscribers)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("-m,--messages", o.messages, "Messages to publish, over all publishers")->capture_default_str();
  app.add_option("--rate", o.rate,
                 "Publish rate in messages/s over all publishers; 0 = as fast as --max-inflight allows")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-inflight", o.max_inflight,
                 "At most this many messages published but not yet delivered to every subscriber "
                 "(counted as deliveries / subscribers); 0 = no bound")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "At most this many publishes in one WebSocket frame")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--size", o.size, "Payload size in bytes ({\"t\":...,\"s\":...,\"p\":\"xx..\"}; at least ~40)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("-t,--threads", o.threads, "Generator threads, one io_context each")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--sources", o.sources, "Bind connections to source addresses 127.0.0.1 .. 127.0.0.K")
      ->check(CLI::Range(1, 254))
      ->capture_default_str();
  app.add_option("--connect-concurrency", o.connect_concurrency, "Connections being set up at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--channel", o.channel,
                 "Channel (herald; default bench:fanout) or subject (nats; default bench.fanout)");
  app.add_option("--app-key", o.app_key, "Herald AppKey");
  app.add_option("--client-secret", o.client_secret, "Herald client secret (HS256 key for the connection JWTs)");
  app.add_option("--dev-app", o.dev_app, "Read app_key and client_secret from this dev-app.json");
  app.add_option("--ca-file", o.ca_file, "wss: verify the server against this CA file (default: no verification)");
  app.add_option("--server-pid", o.server_pid, "Server process: report its RSS per connection and CPU use");
  app.add_option("--timeout", o.timeout, "Seconds from the first publish after which the run ends regardless")
      ->capture_default_str();
  app.add_option("--drain", o.drain, "Seconds to wait for deliveries after the last publish")->capture_default_str();
  app.add_option("--setup-timeout", o.setup_timeout, "Seconds allowed for setting up all connections")
      ->capture_default_str();
  app.add_option("--connect-timeout", o.connect_timeout,
                 "Seconds allowed for one connection's set-up (connect, TLS, upgrade, subscribe)")
      ->capture_default_str();
  app.add_option("--json", o.json, "Write the parameters and figures as JSON to this file");
  app.add_option("--label", o.label, "A name for this run, copied into the JSON");
  app.add_flag("--beast-reader", o.beast_reader,
               "Read with Beast, one operation per WebSocket message, instead of batched socket reads");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress lines on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.progress = !quiet;
  o.proto = proto == "nats" ? Proto::kNats : Proto::kHerald;
  if (o.channel.empty()) o.channel = o.proto == Proto::kNats ? "bench.fanout" : "bench:fanout";
  if (std::string err = parse_url(o.url, o.target); !err.empty()) {
    std::cerr << "bench_fanout: " << err << "\n";
    return 2;
  }
  if (o.messages == 0) {
    std::cerr << "bench_fanout: --messages must be at least 1\n";
    return 2;
  }
  if (o.proto == Proto::kHerald) {
    if (!o.dev_app.empty()) {
      if (std::string err = load_dev_app(o); !err.empty()) {
        std::cerr << "bench_fanout: " << err << "\n";
        return 2;
      }
    }
    if (o.app_key.empty() || o.client_secret.empty()) {
      std::cerr << "bench_fanout: --proto herald needs --app-key and --client-secret, or --dev-app FILE\n";
      return 2;
    }
  }
  return std::nullopt;
}

std::string load_dev_app(Options& o) {
  std::ifstream in(o.dev_app);
  if (!in) return "cannot read " + o.dev_app;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return o.dev_app + ": not a JSON object";
  const auto& obj = v.as_object();
  auto get = [&](const char* key) -> std::string {
    auto it = obj.find(key);
    if (it == obj.end() || !it->value().is_string()) return {};
    return std::string(it->value().as_string());
  };
  if (o.app_key.empty()) o.app_key = get("app_key");
  if (o.client_secret.empty()) o.client_secret = get("client_secret");
  if (o.app_key.empty() || o.client_secret.empty()) return o.dev_app + ": no app_key or client_secret";
  return "";
}

}  // namespace fanout

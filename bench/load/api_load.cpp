// Server-API load: C concurrent clients, each on its own keep-alive HTTPS connection,
// each sending L publish requests one after the other (the "800 clients x 10 loops"
// shape), signed per docs/signing.md or unsigned. Prints one machine-readable line per
// figure and, with --json, a JSON summary.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "auth/signed_request.h"
#include "crypto/encoding.h"
#include "crypto/random.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8443;
  bool tls = true;
  int clients = 800;
  int loops = 10;
  int threads = 1;
  bool sign = true;
  std::string app_key, app_secret, dev_app, json_out, label, channel = "bench:api";
  std::string route = "publish";  // or kms-encrypt
  int size = 100;
};

struct Stats {
  std::atomic<std::uint64_t> ok{0}, failed{0}, connect_failed{0};
  std::vector<std::vector<double>> latencies_ms;  // per thread
};

std::string json_field(const std::string& json, const std::string& name) {
  auto at = json.find("\"" + name + "\":\"");
  if (at == std::string::npos) return {};
  at += name.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

std::string nonce() {
  unsigned char raw[16];
  herald::crypto::random_bytes(raw, sizeof raw);
  return herald::crypto::base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

template <class Stream>
asio::awaitable<void> run_client(Stream& stream, const Options& o, Stats& st, std::vector<double>& lat,
                                 const std::string& body) {
  beast::flat_buffer buf;
  beast::error_code ec;
  for (int i = 0; i < o.loops; ++i) {
    const std::string path = o.route == "kms-encrypt" ? "/api/v1/kms/encrypt" : "/api/v1/publish";
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, o.host);
    req.set(http::field::content_type, "application/json");
    req.set("X-Herald-Key", o.app_key);
    if (o.sign) {
      std::string ts = std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
      std::string n = nonce();
      herald::auth::RequestToSign r{herald::auth::SigningVersion::kV2, "", "POST", path, "", body, ts, n, o.app_key};
      req.set("X-Herald-Signature-Version", "2");
      req.set("X-Herald-Timestamp", ts);
      req.set("X-Herald-Nonce", n);
      req.set("X-Herald-Signature", herald::auth::sign_request(r, o.app_secret));
    }
    req.body() = body;
    req.prepare_payload();
    auto t0 = Clock::now();
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    http::response<http::string_body> res;
    co_await http::async_read(stream, buf, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (res.result_int() == 200)
      st.ok++;
    else {
      if (st.failed++ == 0) std::fprintf(stderr, "api: first failure: %d %s\n", res.result_int(), res.body().c_str());
    }
  }
  if (ec) st.failed += 1;
}

asio::awaitable<void> client(asio::io_context& ioc, asio::ssl::context& tls_ctx, const Options& o, Stats& st,
                             std::vector<double>& lat, const std::string& body) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto eps =
      co_await resolver.async_resolve(o.host, std::to_string(o.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    st.connect_failed++;
    co_return;
  }
  if (o.tls) {
    beast::ssl_stream<beast::tcp_stream> stream(ioc, tls_ctx);
    co_await beast::get_lowest_layer(stream).async_connect(eps, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      st.connect_failed++;
      co_return;
    }
    co_await run_client(stream, o, st, lat, body);
  } else {
    beast::tcp_stream stream(ioc);
    co_await stream.async_connect(eps, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      st.connect_failed++;
      co_return;
    }
    co_await run_client(stream, o, st, lat, body);
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Server-API load: concurrent clients x sequential publish requests, signed or not"};
  app.add_option("--host", o.host, "Server address");
  app.add_option("--port", o.port, "Server port");
  app.add_option("--tls", o.tls, "HTTPS (true) or plain HTTP (false)");
  app.add_option("-c,--clients", o.clients, "Concurrent clients (one connection each)");
  app.add_option("-l,--loops", o.loops, "Requests per client, one after the other");
  app.add_option("-t,--threads", o.threads, "Client threads");
  app.add_option("--sign", o.sign, "Sign requests (false for a server run with --api.require_signature=false)");
  app.add_option("--app-key", o.app_key, "AppKey");
  app.add_option("--app-secret", o.app_secret, "AppSecret");
  app.add_option("--dev-app", o.dev_app, "Read app_key and app_secret from this dev-app.json");
  app.add_option("--size", o.size, "Payload bytes in data");
  app.add_option("--channel", o.channel, "Channel to publish to");
  app.add_option("--route", o.route,
                 "publish (POST /api/v1/publish) or kms-encrypt (POST /api/v1/kms/encrypt of --size bytes)")
      ->check(CLI::IsMember({"publish", "kms-encrypt"}));
  app.add_option("--json", o.json_out, "Write a JSON summary here");
  app.add_option("--label", o.label, "A name for this run, copied into the JSON");
  CLI11_PARSE(app, argc, argv);
  if (!o.dev_app.empty()) {
    std::ifstream f(o.dev_app);
    std::stringstream ss;
    ss << f.rdbuf();
    o.app_key = json_field(ss.str(), "app_key");
    o.app_secret = json_field(ss.str(), "app_secret");
  }
  if (o.app_key.empty() || (o.sign && o.app_secret.empty())) {
    std::fprintf(stderr, "api: --app-key and --app-secret (or --dev-app) are required\n");
    return 2;
  }
  std::string body = o.route == "kms-encrypt"
                         ? "{\"key\":\"default\",\"plaintext\":\"" +
                               herald::crypto::base64_encode(std::string(static_cast<std::size_t>(o.size), 'x')) + "\"}"
                         : "{\"channel\":\"" + o.channel + "\",\"data\":{\"p\":\"" + std::string(o.size, 'x') + "\"}}";

  asio::ssl::context tls_ctx(asio::ssl::context::tls_client);
  tls_ctx.set_verify_mode(asio::ssl::verify_none);
  Stats st;
  st.latencies_ms.resize(static_cast<std::size_t>(o.threads));
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  for (int i = 0; i < o.threads; ++i) iocs.push_back(std::make_unique<asio::io_context>(1));
  for (int c = 0; c < o.clients; ++c) {
    auto t = static_cast<std::size_t>(c % o.threads);
    asio::co_spawn(*iocs[t], client(*iocs[t], tls_ctx, o, st, st.latencies_ms[t], body), asio::detached);
  }
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (auto& ioc : iocs) threads.emplace_back([&ioc] { ioc->run(); });
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : st.latencies_ms) all.insert(all.end(), v.begin(), v.end());
  double rps = static_cast<double>(st.ok.load()) / secs;
  double p50 = percentile(all, 0.50), p99 = percentile(all, 0.99);
  std::printf(
      "api.signed %d\napi.clients %d\napi.loops %d\napi.requests_ok %llu\napi.requests_failed %llu\n"
      "api.connect_failed %llu\napi.seconds %.3f\napi.requests_per_sec %.0f\napi.latency_p50_ms %.3f\n"
      "api.latency_p99_ms %.3f\n",
      o.sign ? 1 : 0, o.clients, o.loops, static_cast<unsigned long long>(st.ok.load()),
      static_cast<unsigned long long>(st.failed.load()), static_cast<unsigned long long>(st.connect_failed.load()),
      secs, rps, p50, p99);
  if (!o.json_out.empty()) {
    std::ofstream j(o.json_out);
    j << "{\"label\":\"" << o.label << "\",\"signed\":" << (o.sign ? "true" : "false") << ",\"clients\":" << o.clients
      << ",\"loops\":" << o.loops << ",\"threads\":" << o.threads << ",\"requests_ok\":" << st.ok.load()
      << ",\"requests_failed\":" << st.failed.load() << ",\"seconds\":" << secs << ",\"requests_per_sec\":" << rps
      << ",\"latency_p50_ms\":" << p50 << ",\"latency_p99_ms\":" << p99 << "}\n";
  }
  return st.failed.load() == 0 && st.connect_failed.load() == 0 ? 0 : 1;
}

// bench_fanout: the fan-out load generator. N WebSocket subscribers on one channel
// (Herald) or subject (nats-server), P publishers, M messages; prints delivered
// messages/s, losses, publish-to-receive latency and the server's memory per
// connection, one machine-readable line per figure, and optionally a JSON summary.
// docs/benchmarks.md ("Fan-out") explains the flags and the figures.
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "fanout/engine.h"
#include "fanout/options.h"

using namespace fanout;

namespace {

// VmRSS of a process in KiB, or -1.
long read_rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of a process in seconds, or -1.
double read_cpu_sec(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t paren = all.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(all.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Busy time of the whole machine (every CPU, every process) in seconds: what the
// generator and the server did not use of it was taken by something else.
double machine_busy_sec() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {};
  in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // all but idle and iowait
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_sec() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](timeval tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double seconds_since(std::uint64_t t_ns) {
  return static_cast<double>(steady_now_ns() - t_ns) / 1e9;
}

// Progress on stderr: rewritten in place on a terminal, a line every few seconds
// otherwise (so that logs stay short).
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}
  template <class... Args>
  void show(const char* fmt, Args... args) {
    if (!enabled_) return;
    std::uint64_t now = steady_now_ns();
    if (now - last_ < (tty_ ? 250'000'000ull : 5'000'000'000ull)) return;
    last_ = now;
    std::fprintf(stderr, tty_ ? "\r\033[K" : "");
    std::fprintf(stderr, fmt, args...);
    if (!tty_) std::fputc('\n', stderr);
    dirty_ = tty_;
  }
  void done() {
    if (dirty_) std::fputc('\n', stderr);
    dirty_ = false;
    last_ = 0;
  }

 private:
  bool enabled_, tty_;
  bool dirty_ = false;
  std::uint64_t last_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (auto status = parse_options(argc, argv, o)) return *status;

  const long rss_before = o.server_pid ? read_rss_kib(o.server_pid) : -1;
  ProgressLine progress(o.progress);
  Engine engine(o);
  const std::uint64_t setup_start = steady_now_ns();
  engine.start();

  // Set-up: every subscriber connected and subscribed (or failed), publishers ready.
  SetupProgress sp;
  bool setup_timed_out = false;
  for (;;) {
    sp = engine.setup_progress();
    bool subs_done = sp.subscribed + sp.failed >= static_cast<std::uint64_t>(o.subscribers);
    bool pubs_done = sp.publishers_ready + sp.publishers_failed >= o.publishers;
    if (subs_done && pubs_done) break;
    // Every first attempt failed: the target is not what we think; stop early.
    if (sp.subscribed == 0 && sp.failed >= std::min<std::uint64_t>(o.subscribers, o.connect_concurrency)) {
      setup_timed_out = true;
      break;
    }
    if (seconds_since(setup_start) > o.setup_timeout) {
      setup_timed_out = true;
      break;
    }
    progress.show("connecting: %" PRIu64 "/%d established, %" PRIu64 " subscribed, %" PRIu64 " failed, %.1f s",
                  sp.established, o.subscribers, sp.subscribed, sp.failed, seconds_since(setup_start));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double setup_sec = seconds_since(setup_start);
  progress.show("connecting: %" PRIu64 "/%d established, %" PRIu64 " subscribed, %" PRIu64 " failed, %.1f s",
                sp.established, o.subscribers, sp.subscribed, sp.failed, setup_sec);
  progress.done();
  // Let the server settle its allocations before measuring it.
  if (o.server_pid) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_subscribed = o.server_pid ? read_rss_kib(o.server_pid) : -1;

  // Publishing, until every expected delivery arrived, the drain time after the last
  // publish ran out, or the overall timeout.
  bool timed_out = false;
  RunProgress rp;
  const double cpu_self_0 = self_cpu_sec();
  const double cpu_server_0 = o.server_pid ? read_cpu_sec(o.server_pid) : -1;
  const double cpu_machine_0 = machine_busy_sec();
  const std::uint64_t run_start = steady_now_ns();
  if (sp.publishers_ready > 0 && sp.subscribed > 0) {
    engine.start_publishing();
    std::uint64_t last_delivered = 0, last_ns = run_start;
    double last_rate = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      rp = engine.run_progress();
      const std::uint64_t subs = engine.setup_progress().subscribed;
      const std::uint64_t expected = (rp.published - std::min(rp.published, rp.publish_errors)) * subs;
      const bool all_published = rp.publishers_done >= sp.publishers_ready;
      if (all_published && rp.delivered >= expected) break;
      if (seconds_since(rp.first_publish_ns ? rp.first_publish_ns : run_start) > o.timeout) {
        timed_out = true;
        break;
      }
      if (all_published && seconds_since(rp.last_publish_ns) > o.drain) break;
      std::uint64_t now = steady_now_ns();
      if (now - last_ns >= 1'000'000'000ull) {
        last_rate = static_cast<double>(rp.delivered - last_delivered) * 1e9 / static_cast<double>(now - last_ns);
        last_delivered = rp.delivered;
        last_ns = now;
      }
      progress.show("publishing: %" PRIu64 "/%" PRIu64 " published, %" PRIu64 "/%" PRIu64 " delivered, %.0f/s, %.1f s",
                    rp.published, o.messages, rp.delivered, expected, last_rate, seconds_since(run_start));
    }
    progress.done();
  }
  const double run_wall = rp.first_publish_ns ? seconds_since(run_start) : 0;
  const double cpu_self = self_cpu_sec() - cpu_self_0;
  const double cpu_server = o.server_pid ? read_cpu_sec(o.server_pid) - cpu_server_0 : -1;
  const double cpu_machine = machine_busy_sec() - cpu_machine_0;
  const long rss_end = o.server_pid ? read_rss_kib(o.server_pid) : -1;
  rp = engine.run_progress();
  sp = engine.setup_progress();
  engine.stop();
  Totals t = engine.totals();

  const std::uint64_t subs = sp.subscribed;
  const std::uint64_t published_ok = rp.published - std::min(rp.published, rp.publish_errors);
  const std::uint64_t expected = published_ok * subs;
  const std::uint64_t losses = expected > t.delivered ? expected - t.delivered : 0;
  const double window = t.last_delivery_ns > rp.first_publish_ns && rp.first_publish_ns
                            ? static_cast<double>(t.last_delivery_ns - rp.first_publish_ns) / 1e9
                            : 0;
  const double per_sec = window > 0 ? static_cast<double>(t.delivered) / window : 0;
  auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  const double p50 = ms(t.latency.percentile(0.50)), p99 = ms(t.latency.percentile(0.99)),
               p999 = ms(t.latency.percentile(0.999)), pmax = ms(t.latency.max());
  const double rss_per_conn = rss_before >= 0 && rss_subscribed >= 0 && subs > 0
                                  ? static_cast<double>(rss_subscribed - rss_before) / static_cast<double>(subs)
                                  : -1;

  boost::json::object figures;
  auto fig = [&](const char* name, auto value) {
    figures[name] = value;
    if constexpr (std::is_floating_point_v<decltype(value)>)
      std::printf("fanout.%s %.3f\n", name, value);
    else
      std::printf("fanout.%s %lld\n", name, static_cast<long long>(value));
  };
  fig("subscribers", static_cast<std::int64_t>(o.subscribers));
  fig("connections_established", static_cast<std::int64_t>(sp.established));
  fig("connections_failed", static_cast<std::int64_t>(sp.failed + sp.late));
  fig("subscribed", static_cast<std::int64_t>(subs));
  fig("setup_sec", setup_sec);
  fig("messages_published", static_cast<std::int64_t>(rp.published));
  fig("publish_errors", static_cast<std::int64_t>(rp.publish_errors));
  fig("deliveries_expected", static_cast<std::int64_t>(expected));
  fig("deliveries", static_cast<std::int64_t>(t.delivered));
  fig("losses", static_cast<std::int64_t>(losses));
  fig("disconnects", static_cast<std::int64_t>(rp.disconnects));
  fig("out_of_order", static_cast<std::int64_t>(t.out_of_order));
  fig("gaps", static_cast<std::int64_t>(t.gaps));
  fig("unstamped", static_cast<std::int64_t>(t.without_time));
  fig("timed_out", static_cast<std::int64_t>(timed_out || setup_timed_out));
  fig("window_sec", window);
  fig("delivered_per_sec", static_cast<std::int64_t>(std::llround(per_sec)));
  fig("deliveries_per_frame", t.frames ? static_cast<double>(t.delivered) / static_cast<double>(t.frames) : 0.0);
  fig("latency_p50_ms", p50);
  fig("latency_p99_ms", p99);
  fig("latency_p999_ms", p999);
  fig("latency_max_ms", pmax);
  fig("generator_cpu_pct", run_wall > 0 ? 100 * cpu_self / run_wall : 0.0);
  fig("machine_cpu_pct", run_wall > 0 ? 100 * cpu_machine / run_wall : 0.0);
  if (o.server_pid) {
    fig("server_cpu_pct", run_wall > 0 ? 100 * cpu_server / run_wall : 0.0);
    fig("server_rss_before_kib", static_cast<std::int64_t>(rss_before));
    fig("server_rss_subscribed_kib", static_cast<std::int64_t>(rss_subscribed));
    fig("server_rss_end_kib", static_cast<std::int64_t>(rss_end));
    fig("server_rss_per_conn_kib", rss_per_conn);
  }
  for (const auto& e : t.errors) std::fprintf(stderr, "bench_fanout: %s\n", e.c_str());

  if (!o.json.empty()) {
    boost::json::object params{{"proto", proto_name(o.proto)},
                               {"url", o.url},
                               {"tls", o.target.tls},
                               {"subscribers", o.subscribers},
                               {"publishers", o.publishers},
                               {"messages", o.messages},
                               {"rate", o.rate},
                               {"max_inflight", o.max_inflight},
                               {"batch", o.batch},
                               {"size", o.size},
                               {"threads", o.threads},
                               {"sources", o.sources},
                               {"connect_concurrency", o.connect_concurrency},
                               {"channel", o.channel},
                               {"timeout", o.timeout},
                               {"drain", o.drain}};
    boost::json::array errors;
    for (const auto& e : t.errors) errors.emplace_back(e);
    boost::json::object doc{{"bench", "fanout"},
                            {"label", o.label},
                            {"params", std::move(params)},
                            {"figures", std::move(figures)},
                            {"errors", std::move(errors)}};
    std::ofstream out(o.json);
    out << boost::json::serialize(doc) << "\n";
    if (!out) {
      std::fprintf(stderr, "bench_fanout: cannot write %s\n", o.json.c_str());
      return 1;
    }
  }
  if (sp.publishers_ready == 0 || subs == 0) return 1;
  return 0;
}

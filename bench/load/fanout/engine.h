// The generator's network side: T threads with one io_context each, the subscriber
// and publisher connections (coroutines over Beast WebSocket streams, plain or TLS),
// and the counters the driver watches. Asio stays out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fanout/histogram.h"
#include "fanout/options.h"

namespace fanout {

struct SetupProgress {
  std::uint64_t established = 0;  // TCP + TLS + WebSocket handshakes done
  std::uint64_t subscribed = 0;   // subscription acknowledged
  std::uint64_t failed = 0;
  std::uint64_t late = 0;  // subscribed after publishing had started: not counted
  int publishers_ready = 0;
  int publishers_failed = 0;
};

struct RunProgress {
  std::uint64_t published = 0;
  std::uint64_t publish_acks = 0;
  std::uint64_t publish_errors = 0;
  std::uint64_t delivered = 0;
  std::uint64_t disconnects = 0;  // subscribers that lost their connection during the run
  int publishers_done = 0;
  std::uint64_t first_publish_ns = 0;  // steady clock
  std::uint64_t last_publish_ns = 0;
};

struct Totals {
  LatencyHistogram latency;  // publish-to-receive, ns
  std::uint64_t delivered = 0;
  std::uint64_t without_time = 0;  // deliveries whose payload had no parsable send time and sequence
  std::uint64_t out_of_order = 0;  // deliveries at or before one already received (duplicate, reordered)
  std::uint64_t gaps = 0;          // messages a subscriber skipped over (a later one came first)
  std::uint64_t frames = 0;        // WebSocket messages the subscribers read
  std::uint64_t last_delivery_ns = 0;
  std::vector<std::string> errors;  // a few distinct error texts, for the report
};

std::uint64_t steady_now_ns();

class Engine {
 public:
  explicit Engine(const Options& o);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the threads; connections are set up with bounded concurrency.
  void start();
  SetupProgress setup_progress() const;
  // Lets the publishers go.
  void start_publishing();
  RunProgress run_progress() const;
  // Stops every thread and joins them; afterwards totals() may be read.
  void stop();
  Totals totals() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fanout

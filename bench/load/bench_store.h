// What the durable-store benchmarks share: the driver list (sqlite, postgres or both),
// a PostgreSQL to run on (the user's URL, else a throwaway server like the tests'),
// latency figures and how a phase's figures are printed.
#pragma once

#include <boost/json/object.hpp>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"

namespace herald::bench {

// "both" → {"sqlite", "postgres"}; otherwise the one named (an unknown name fails).
Result<std::vector<std::string>> drivers(const std::string& choice);

// The database for a postgres run: `given` if set (HERALD_BENCH_POSTGRES_URL), else a
// fresh schema on a throwaway server started on first use and removed at exit (as the
// tests' tests/support/pg_server.h: fsync and synchronous_commit on, loopback).
Result<std::string> postgres_url(const std::string& given);

// Latencies of completed operations, in milliseconds, from every thread.
class Latencies {
 public:
  void add(double ms) {
    std::lock_guard lock(mu_);
    if (ms_.size() < kMax) ms_.push_back(ms);
  }
  void add_all(const std::vector<double>& ms) {
    std::lock_guard lock(mu_);
    ms_.insert(ms_.end(), ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(std::min(ms.size(), kMax)));
  }
  // p in [0, 1]; 1 is the largest.
  double pct(double p) {
    std::lock_guard lock(mu_);
    if (ms_.empty()) return 0;
    if (!sorted_) std::sort(ms_.begin(), ms_.end());
    sorted_ = true;
    return ms_[std::min(ms_.size() - 1, static_cast<std::size_t>(p * static_cast<double>(ms_.size())))];
  }

 private:
  static constexpr std::size_t kMax = 8'000'000;
  std::mutex mu_;
  std::vector<double> ms_;
  bool sorted_ = false;
};

// One phase's figures: operations a second, latencies, operations done and failed.
struct PhaseFigures {
  double per_sec = 0, p50 = 0, p99 = 0, max = 0;
  std::uint64_t count = 0, failures = 0;
};

// What a bench calls its figures, e.g. {"publishes_per_sec", "latency", "published"}.
struct FigureNames {
  const char* per_sec;
  const char* latency;  // printed as <latency>_p50_ms, _p99_ms, _max_ms
  const char* count;
};

// Prints `<prefix>.<name> <value>` lines (the target rate first when `rate` > 0) and
// puts the same keys into `out`.
void print_phase(boost::json::object& out, const std::string& prefix, const PhaseFigures& f, double rate,
                 const FigureNames& names);

}  // namespace herald::bench

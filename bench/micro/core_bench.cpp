// Micro-benchmarks of per-request work outside the network: metrics updates, log line
// rendering, request ids, error rendering.
#include <benchmark/benchmark.h>

#include "api/errors.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"

using namespace herald;

static void BM_CounterWithLabels(benchmark::State& state) {
  metrics::Registry r;
  auto& fam = r.counter("x_total", "x", {"route", "status"});
  for (auto _ : state) fam.with({"/healthz", "200"}).inc();
}
BENCHMARK(BM_CounterWithLabels)->ThreadRange(1, 2);

static void BM_HistogramObserve(benchmark::State& state) {
  metrics::Histogram h(metrics::latency_buckets());
  double v = 0.0001;
  for (auto _ : state) {
    h.observe(v);
    v = v > 5 ? 0.0001 : v * 1.7;
  }
}
BENCHMARK(BM_HistogramObserve);

static void BM_RenderJsonLogLine(benchmark::State& state) {
  for (auto _ : state) {
    auto line = log::render(true, log::Level::Info, "http_request",
                            {{"request_id", "8006872da36d-1"}, {"path", "/healthz"}, {"status", 200}, {"ms", 0.12}},
                            "2026-11-22T00:00:00.000Z");
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_RenderJsonLogLine);

static void BM_RequestId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(next_request_id());
}
BENCHMARK(BM_RequestId);

static void BM_ErrorResponse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(api::error_response(Errc::kNotFound, "rid"));
}
BENCHMARK(BM_ErrorResponse);

BENCHMARK_MAIN();

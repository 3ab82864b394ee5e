#include "core/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace herald::metrics {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistograms) {
  Registry r;
  r.counter("t_requests_total", "Requests", {"route", "status"}).with({"/a", "200"}).inc(3);
  r.gauge("t_open", "Open").with({}).set(-2);
  auto& h = r.histogram("t_seconds", "Latency", {"route"}, {0.1, 1}).with({"/a"});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string out = r.render();
  EXPECT_NE(out.find("# TYPE t_requests_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("t_requests_total{route=\"/a\",status=\"200\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("t_open -2\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_sum{route=\"/a\"} 5.55\n"), std::string::npos);
  EXPECT_NE(out.find("t_seconds_count{route=\"/a\"} 3\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& fam = r.counter("t_total", "x", {"k"});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) fam.with({i % 2 ? "odd" : "even"}).inc();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(fam.with({"odd"}).value() + fam.with({"even"}).value(), 40000u);
}

}  // namespace
}  // namespace herald::metrics

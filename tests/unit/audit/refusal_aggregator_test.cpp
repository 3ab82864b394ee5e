// Folding of repeated refusals: a flood from one source costs one entry now and one
// counted entry per interval, another source is recorded on its own, memory is bounded.
#include "audit/refusal_aggregator.h"

#include <gtest/gtest.h>

#include <vector>

namespace herald::audit {
namespace {

struct Sink : Recorder {
  void record(Event e) override { events.push_back(std::move(e)); }
  std::vector<Event> events;
};

Event refusal(const std::string& source, const std::string& code, const std::string& rid) {
  return Event{"api", "POST /api/v1/publish", code, 401, "anonymous", rid, source, {}, {}};
}

std::string detail(const Event& e, const std::string& k) {
  for (const auto& [name, v] : e.details)
    if (name == k) return v;
  return {};
}

TEST(RefusalAggregator, AFloodFromOneSourceBecomesOneEntryAndOneCount) {
  Sink sink;
  ManualClock clock;
  RefusalAggregator agg(sink, 60'000, 100, clock.as_clock());
  for (int i = 0; i < 1000; ++i) agg.offer(refusal("198.51.100.1", "auth_missing", "r" + std::to_string(i)));
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].request_id, "r0");
  agg.offer(refusal("198.51.100.2", "auth_missing", "other"));
  agg.offer(refusal("198.51.100.1", "signature_invalid", "sig"));
  EXPECT_EQ(sink.events.size(), 3u);  // another source, another code: recorded at once
  agg.flush(false);
  EXPECT_EQ(sink.events.size(), 3u);  // the interval has not ended
  clock.advance(60'000);
  agg.flush(false);
  ASSERT_EQ(sink.events.size(), 4u);
  const Event& s = sink.events[3];
  EXPECT_EQ(s.action, "refusals");
  EXPECT_EQ(s.result, "auth_missing");
  EXPECT_EQ(s.source, "198.51.100.1");
  EXPECT_EQ(detail(s, "count"), "999");
  EXPECT_EQ(s.request_id, "r999");
  agg.flush(true);
  EXPECT_EQ(sink.events.size(), 4u);  // nothing folded elsewhere
}

TEST(RefusalAggregator, ANewIntervalStartsWithARecordedEntryAndFlushesTheOld) {
  Sink sink;
  ManualClock clock;
  RefusalAggregator agg(sink, 1000, 100, clock.as_clock());
  agg.offer(refusal("198.51.100.1", "auth_missing", "a"));
  agg.offer(refusal("198.51.100.1", "auth_missing", "b"));
  clock.advance(1000);
  agg.offer(refusal("198.51.100.1", "auth_missing", "c"));
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(detail(sink.events[1], "count"), "1");
  EXPECT_EQ(sink.events[2].request_id, "c");
}

TEST(RefusalAggregator, ManySourcesStayBoundedInEntriesPerInterval) {
  Sink sink;
  ManualClock clock;
  RefusalAggregator agg(sink, 60'000, 10, clock.as_clock());
  for (int round = 0; round < 5; ++round)
    for (int i = 0; i < 1000; ++i)
      agg.offer(refusal("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "auth_missing", "x"));
  agg.flush(true);
  // 10 tracked sources and one shared key: each one entry now and one count.
  EXPECT_LE(sink.events.size(), 22u);
  std::uint64_t total = 0;
  for (const auto& e : sink.events) total += e.action == "refusals" ? std::stoull(detail(e, "count")) : 1;
  EXPECT_EQ(total, 5000u);  // nothing lost, only folded
}

// The client protocol hands its refused connects to a Recorder: given the aggregator,
// a flood of bad tokens from one address is one entry and one count, not one each.
TEST(RefusalAggregator, AsARecorderItFoldsRefusedConnects) {
  Sink sink;
  ManualClock clock;
  RefusalAggregator agg(sink, 60'000, 100, clock.as_clock());
  Recorder& client_audit = agg;
  for (int i = 0; i < 500; ++i)
    client_audit.record(Event{"client", "connect", "token_invalid", 0, "app:a1", "", "198.51.100.7", {}, {}});
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].type, "client");
  agg.flush(true);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(detail(sink.events[1], "count"), "499");
  EXPECT_EQ(detail(sink.events[1], "last_action"), "connect");
}

}  // namespace
}  // namespace herald::audit

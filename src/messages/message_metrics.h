// The messages module's metrics (docs/metrics.md, herald_messages_*), shared by the
// service and its scheduler.
#pragma once

#include <iterator>
#include <string_view>

namespace herald::metrics {
class Registry;
class Counter;
class Gauge;
template <class T>
class Family;
}  // namespace herald::metrics

namespace herald::messages {

struct MessageMetrics {
  explicit MessageMetrics(metrics::Registry& r);
  // One status-trail event counted under herald_messages_events_total.
  void count_event(std::string_view event);
  void count_fallback(std::string_view channel, std::string_view outcome);

  static constexpr std::string_view kEvents[] = {"accepted",         "stored",        "delivered",       "acked",
                                                 "fallback_started", "fallback_sent", "retry_scheduled", "failed",
                                                 "dead_lettered",    "replayed",      "expired"};
  metrics::Counter* event_counters[std::size(kEvents)] = {};
  metrics::Counter* published;
  metrics::Counter* duplicates;
  metrics::Family<metrics::Counter>* refused;
  metrics::Family<metrics::Counter>* events;
  metrics::Counter* delivered;
  metrics::Counter* acked;
  metrics::Counter* expired;
  metrics::Family<metrics::Counter>* fallback;
  metrics::Counter* dead;
  metrics::Gauge* pending;
  // Leases on due work (docs/cluster.md#leases), by `work`: step (a message's fallback
  // step, expiry or purge) or webhook (a webhook attempt).
  metrics::Counter* step_claims;
  metrics::Counter* step_takeovers;
  metrics::Counter* webhook_claims;
  metrics::Counter* webhook_takeovers;
  // Cluster mode: the inbox scan (InboxSync).
  metrics::Counter* found_elsewhere;
  metrics::Counter* stale_dropped;
};

}  // namespace herald::messages

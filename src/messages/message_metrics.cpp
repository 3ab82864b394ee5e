// Registration of the messages metrics.
#include "messages/message_metrics.h"

#include <string>

#include "core/metrics.h"

namespace herald::messages {

MessageMetrics::MessageMetrics(metrics::Registry& r)
    : published(&r.counter("herald_messages_published_total", "Messages accepted and stored").with({})),
      duplicates(&r.counter("herald_messages_duplicates_total",
                            "Publishes answered with an earlier message (same idempotency key)")
                      .with({})),
      refused(&r.counter("herald_messages_refused_total", "Publishes refused, by reason", {"reason"})),
      events(&r.counter("herald_messages_events_total", "Status-trail events, by event", {"event"})),
      delivered(&r.counter("herald_messages_delivered_total", "Message pushes to live connections").with({})),
      acked(&r.counter("herald_messages_acked_total", "Messages acknowledged by their user").with({})),
      expired(&r.counter("herald_messages_expired_total", "Messages that expired unacknowledged").with({})),
      fallback(&r.counter("herald_messages_fallback_total", "Fallback sends, by channel and outcome",
                          {"channel", "outcome"})),
      dead(&r.counter("herald_messages_dead_letters_total", "Webhook deliveries given up (dead-lettered)").with({})),
      pending(&r.gauge("herald_messages_pending", "Unacknowledged, unexpired messages held").with({})),
      found_elsewhere(&r.counter("herald_messages_cluster_found_total",
                                 "Pending messages accepted on another node that this node's inbox scan found")
                           .with({})),
      stale_dropped(&r.counter("herald_messages_cluster_stale_total",
                               "Inbox entries dropped because another node acknowledged or expired their message")
                         .with({})) {
  for (std::size_t i = 0; i < std::size(kEvents); ++i) event_counters[i] = &events->with({std::string(kEvents[i])});
  auto& claims =
      r.counter("herald_messages_lease_claims_total", "Due rows this node claimed (leased), by work", {"work"});
  auto& takeovers = r.counter("herald_messages_lease_takeovers_total",
                              "Claims of due rows whose previous lease had run out unreleased, by work", {"work"});
  step_claims = &claims.with({"step"});
  step_takeovers = &takeovers.with({"step"});
  webhook_claims = &claims.with({"webhook"});
  webhook_takeovers = &takeovers.with({"webhook"});
}

void MessageMetrics::count_event(std::string_view event) {
  for (std::size_t i = 0; i < std::size(kEvents); ++i)
    if (kEvents[i] == event) return event_counters[i]->inc();
  events->with({std::string(event)}).inc();
}

void MessageMetrics::count_fallback(std::string_view channel, std::string_view outcome) {
  fallback->with({std::string(channel), std::string(outcome)}).inc();
}

}  // namespace herald::messages

// Outbound webhooks: one signed HTTPS POST per attempt (Standard Webhooks headers),
// behind an SSRF guard, and WebhookSender, its non-blocking face on a bounded pool.
// Retrying, and the timestamp of each attempt, are the caller's (docs/delivery.md#webhooks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "delivery/worker_pool.h"

namespace herald::metrics {
class Registry;
class Counter;
class Histogram;
}  // namespace herald::metrics

namespace herald::delivery {

struct WebhookRequest {
  std::string url;               // must be https://; http:// only when allow_private is true (tests)
  std::string secret;            // the raw signing key bytes (already decoded from "whsec_<base64>")
  std::string id;                // webhook-id header (the message id; stable across retries)
  std::int64_t timestamp_s = 0;  // webhook-timestamp header (seconds); the caller sets it per attempt
  std::string body;              // JSON body, sent with Content-Type: application/json
  bool allow_private = false;    // the app allows private/loopback destinations (SSRF guard off)
  std::string ca_file;           // extra CA bundle (PEM) or empty for the system store
  long timeout_ms = 10'000;
};

struct WebhookOutcome {
  bool delivered = false;  // 2xx
  bool retryable = false;  // worth another attempt later
  int http_status = 0;     // 0 when no response
  // Short reason without secrets or bodies: "http 500", "timeout", "connect failed",
  // "address_forbidden: 127.0.0.1", "bad url", ... (the full list is in docs/delivery.md).
  std::string error;
  std::optional<std::int64_t> retry_after_s;  // from a Retry-After header (delta-seconds form only), capped at 3600
};

// Standard Webhooks signature header value: "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)).
std::string webhook_signature(std::string_view secret, std::string_view id, std::int64_t timestamp_s,
                              std::string_view body);

// A new signing secret: "whsec_" + base64 of 32 random bytes.
std::string make_webhook_secret();
// The raw key of a "whsec_<base64>" secret; "invalid_argument" unless the prefix is there, the base64 is canonical
// and the key is 24 to 64 bytes long (the Standard Webhooks bounds).
Result<std::string> decode_webhook_secret(std::string_view whsec);

// One POST, blocking (runs on a worker thread), bounded by timeout_ms once the host is resolved. Resolves the host
// itself (getaddrinfo); unless allow_private, refuses (non-retryable, "address_forbidden: <ip>") when ANY resolved
// address is forbidden, and pins the connection to the checked addresses with CURLOPT_RESOLVE so that a DNS answer
// that changes between check and connect (rebinding) cannot reach another address; the address of every socket
// libcurl opens is checked again. No redirects, no proxy. Reads and discards at most 64 KiB of the response body.
// 2xx is delivered; 408, 425, 429 and 5xx are retryable, other statuses not; transport failures (resolve, connect,
// TLS including certificate verification, timeout) are retryable; a bad request (url, id, secret) is not.
WebhookOutcome post_webhook(const WebhookRequest& req);

// The non-blocking face: `workers` threads with at most `queue_max` waiting jobs. send() queues; when the queue is
// full or the sender is stopping, `done` is called at once on the caller's thread with
// {delivered=false, retryable=true, error="busy"}; otherwise `done` runs on a worker thread. Metrics (when `registry`
// is non-null): herald_webhook_requests_total{outcome="delivered|retryable|failed"} and the
// herald_webhook_request_seconds histogram.
class WebhookSender {
 public:
  WebhookSender(std::size_t workers, std::size_t queue_max, metrics::Registry* registry);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void send(WebhookRequest req, std::function<void(WebhookOutcome)> done);
  // Runs the queued jobs, then joins the workers. Idempotent; must not be called from `done`.
  void stop();

 private:
  void run(const WebhookRequest& req, const std::function<void(WebhookOutcome)>& done);

  metrics::Counter* delivered_ = nullptr;
  metrics::Counter* retryable_ = nullptr;
  metrics::Counter* failed_ = nullptr;
  metrics::Histogram* seconds_ = nullptr;
  WorkerPool pool_;  // last: its threads use the members above until stop() joins them
};

}  // namespace herald::delivery

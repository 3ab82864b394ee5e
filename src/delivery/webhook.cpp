// Webhook attempts: Standard Webhooks signing, the resolve-check-pin sequence that keeps
// an app's URL from reaching the server's own network, and the bounded worker pool.
#include "delivery/webhook.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "delivery/address_guard.h"
#include "delivery/blocking_sender.h"
#include "delivery/curl_easy.h"

namespace herald::delivery {
namespace {

constexpr std::size_t kMaxReply = std::size_t{64} * 1024;
constexpr std::int64_t kMaxRetryAfter = 3600;
constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kMinSecretBytes = 24;
constexpr std::size_t kMaxSecretBytes = 64;

WebhookOutcome refused(std::string error) {
  WebhookOutcome o;
  o.error = std::move(error);
  return o;
}

WebhookOutcome transient(std::string error) {
  WebhookOutcome o;
  o.retryable = true;
  o.error = std::move(error);
  return o;
}

// Where a URL points: what libcurl will connect to, in the form the checks need.
struct Target {
  std::string host;  // lower case; an IPv6 literal without its brackets
  std::string port;  // explicit or the scheme's default
  bool literal = false;
};

std::string url_part(const std::string& url, CURLUPart part, unsigned flags) {
  std::string out;
  CURLU* u = curl_url();
  if (!u) return out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* v = nullptr;
    if (curl_url_get(u, part, &v, flags) == CURLUE_OK && v) out = v;
    curl_free(v);
  }
  curl_url_cleanup(u);
  return out;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// The target of an acceptable URL, or nothing. Host names are plain ASCII (an
// international name is written in punycode), so that the name checked here and the
// one libcurl connects to are the same string; zone ids and credentials are refused.
std::optional<Target> parse_target(const WebhookRequest& req) {
  const UrlParts parts = parse_url(req.url);
  if (parts.host.empty() || parts.has_credentials) return std::nullopt;
  if (parts.scheme != "https" && !(parts.scheme == "http" && req.allow_private)) return std::nullopt;
  if (!url_part(req.url, CURLUPART_ZONEID, 0).empty()) return std::nullopt;
  Target t;
  t.port = url_part(req.url, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (t.port.empty()) return std::nullopt;
  t.host = parts.host;
  std::transform(t.host.begin(), t.host.end(), t.host.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  if (t.host.front() == '[') {
    if (t.host.size() < 3 || t.host.back() != ']') return std::nullopt;
    t.host = t.host.substr(1, t.host.size() - 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, t.host.c_str(), &a6) != 1) return std::nullopt;
    t.literal = true;
    return t;
  }
  if (!std::all_of(t.host.begin(), t.host.end(), is_host_char)) return std::nullopt;
  in_addr a4{};
  t.literal = inet_pton(AF_INET, t.host.c_str(), &a4) == 1;
  return t;
}

std::string sockaddr_ip(const sockaddr* sa) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  const void* src = nullptr;
  if (sa->sa_family == AF_INET) src = &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
  if (sa->sa_family == AF_INET6) src = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
  if (!src || !inet_ntop(sa->sa_family, src, buf.data(), buf.size())) return {};
  return buf.data();
}

// Every address `host` resolves to, in numeric form, or nothing when it does not resolve.
std::vector<std::string> resolve(const Target& t) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = t.literal ? AI_NUMERICHOST : 0;
  addrinfo* res = nullptr;
  std::vector<std::string> out;
  if (getaddrinfo(t.host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (const addrinfo* ai = res; ai; ai = ai->ai_next) {
    std::string ip = sockaddr_ip(ai->ai_addr);
    if (!ip.empty() && std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(std::move(ip));
  }
  freeaddrinfo(res);
  return out;
}

// Checked again for every socket libcurl opens: should its connection ever go anywhere
// other than the pinned addresses, a forbidden destination is still refused.
struct SocketCheck {
  bool enabled = false;
  std::string refused;  // the address refused, if any
};

curl_socket_t open_checked_socket(void* clientp, curlsocktype, curl_sockaddr* addr) {
  auto* check = static_cast<SocketCheck*>(clientp);
  if (check->enabled) {
    std::string ip = sockaddr_ip(&addr->addr);
    if (ip.empty() || is_forbidden_address(ip)) {
      check->refused = ip.empty() ? "unknown" : std::move(ip);
      return CURL_SOCKET_BAD;
    }
  }
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

size_t discard_reply(char*, size_t size, size_t nmemb, void* userp) {
  auto* total = static_cast<std::size_t*>(userp);
  *total += size * nmemb;
  // Returning less than given aborts the transfer; the status line has been read by then.
  return *total > kMaxReply ? 0 : size * nmemb;
}

// Retry-After in its delta-seconds form; the HTTP-date form is ignored.
std::optional<std::int64_t> parse_retry_after(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n'))
    v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = std::min(n * 10 + (c - '0'), kMaxRetryAfter + 1);
  }
  return std::min(n, kMaxRetryAfter);
}

size_t on_header(char* data, size_t size, size_t nmemb, void* userp) {
  auto* retry_after = static_cast<std::optional<std::int64_t>*>(userp);
  const std::string_view line(data, size * nmemb);
  constexpr std::string_view kName = "retry-after:";
  if (line.starts_with("HTTP/")) {
    retry_after->reset();  // a new response (after a 1xx) starts
  } else if (line.size() >= kName.size() && std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) {
               return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
             })) {
    *retry_after = parse_retry_after(line.substr(kName.size()));
  }
  return size * nmemb;
}

WebhookOutcome classify_status(long status) {
  WebhookOutcome o;
  o.http_status = static_cast<int>(status);
  if (status >= 200 && status < 300) {
    o.delivered = true;
    return o;
  }
  o.retryable = status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600);
  o.error = "http " + std::to_string(status);
  return o;
}

WebhookOutcome classify_transport(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return transient("timeout");
    case CURLE_COULDNT_RESOLVE_HOST:
      return transient("resolve failed");
    case CURLE_COULDNT_CONNECT:
      return transient("connect failed");
    // An untrusted or misnamed certificate is often an operator's to fix, so it is retried like other failures.
    case CURLE_PEER_FAILED_VERIFICATION:
      return transient("certificate verification failed");
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return transient("tls failed");
    case CURLE_SEND_ERROR:
      return transient("send failed");
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return transient("no response");
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return refused("bad url");
    default:
      return transient("transport error");
  }
}

bool is_valid_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c != '\x7f'; });
}

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view id, std::int64_t timestamp_s,
                              std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp_s)).append(".").append(body);
  std::string mac = crypto::hmac_sha256(secret, content);
  std::string out = "v1," + crypto::base64_encode(mac);
  OPENSSL_cleanse(content.data(), content.size());
  return out;
}

std::string make_webhook_secret() {
  std::string key(kSecretBytes, '\0');
  crypto::random_bytes(reinterpret_cast<unsigned char*>(key.data()), key.size());
  std::string out = std::string(kSecretPrefix) + crypto::base64_encode(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

Result<std::string> decode_webhook_secret(std::string_view whsec) {
  if (!whsec.starts_with(kSecretPrefix))
    return make_error(Errc::kInvalidArgument, "a webhook secret starts with whsec_");
  auto key = crypto::base64_decode(whsec.substr(kSecretPrefix.size()));
  if (!key) return make_error(Errc::kInvalidArgument, "a webhook secret is whsec_ and base64");
  if (key->size() < kMinSecretBytes || key->size() > kMaxSecretBytes) {
    OPENSSL_cleanse(key->data(), key->size());
    return make_error(Errc::kInvalidArgument, "a webhook secret holds 24 to 64 bytes");
  }
  return std::move(*key);
}

WebhookOutcome post_webhook(const WebhookRequest& req) {
  init_curl();
  const auto target = parse_target(req);
  if (!target) return refused("bad url");
  if (!is_valid_id(req.id)) return refused("bad id");
  if (req.secret.empty()) return refused("no secret");

  const std::vector<std::string> addresses = resolve(*target);
  if (addresses.empty()) return transient("resolve failed");
  if (!req.allow_private) {
    for (const auto& ip : addresses)
      if (is_forbidden_address(ip)) return refused("address_forbidden: " + ip);
  }

  CurlEasy h(curl_easy_init());
  if (!h) return transient("out of memory");
  // A non-positive timeout would mean "none" to libcurl.
  set_common_options(h.get(), req.ca_file, req.timeout_ms > 0 ? req.timeout_ms : WebhookRequest{}.timeout_ms);
  curl_easy_setopt(h.get(), CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, req.allow_private ? "http,https" : "https");
  curl_easy_setopt(h.get(), CURLOPT_REDIR_PROTOCOLS_STR, "https");
  // A proxy would resolve the name again, out of reach of the check and the pin.
  curl_easy_setopt(h.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "Herald-Webhook/1");
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, req.body.data());

  CurlSlist headers;
  bool ok =
      slist_append(headers, "webhook-id: " + req.id) &&
      slist_append(headers, "webhook-timestamp: " + std::to_string(req.timestamp_s)) &&
      slist_append(headers, "webhook-signature: " + webhook_signature(req.secret, req.id, req.timestamp_s, req.body)) &&
      slist_append(headers, "Content-Type: application/json") &&
      slist_append(headers, "Expect:");  // no 100-continue round trip before the body

  // The pin: libcurl takes the addresses checked above instead of asking DNS again.
  // Both spellings of a name with a trailing dot are pinned, whichever libcurl looks up.
  CurlSlist pin;
  if (!target->literal) {
    std::string list;
    for (const auto& ip : addresses) {
      if (!list.empty()) list += ',';
      list += ip.find(':') == std::string::npos ? ip : "[" + ip + "]";
    }
    std::string name = target->host;
    ok = ok && slist_append(pin, name + ":" + target->port + ":" + list);
    if (name.size() > 1 && name.back() == '.') {
      name.pop_back();
      ok = ok && slist_append(pin, name + ":" + target->port + ":" + list);
    }
  }
  if (!ok) return transient("out of memory");
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  if (pin) curl_easy_setopt(h.get(), CURLOPT_RESOLVE, pin.get());

  SocketCheck check{.enabled = !req.allow_private};
  curl_easy_setopt(h.get(), CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
  curl_easy_setopt(h.get(), CURLOPT_OPENSOCKETDATA, &check);
  std::size_t reply_bytes = 0;
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, discard_reply);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &reply_bytes);
  std::optional<std::int64_t> retry_after;
  curl_easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, &retry_after);

  const CURLcode rc = curl_easy_perform(h.get());
  if (!check.refused.empty()) return refused("address_forbidden: " + check.refused);
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  // Once a status line has arrived, it decides, whatever then happened to the body.
  WebhookOutcome out = status > 0 ? classify_status(status) : classify_transport(rc);
  if (status > 0) out.retry_after_s = retry_after;
  return out;
}

WebhookSender::WebhookSender(std::size_t workers, std::size_t queue_max, metrics::Registry* registry)
    : pool_(workers, queue_max) {
  init_curl();
  if (!registry) return;
  auto& requests = registry->counter("herald_webhook_requests_total",
                                     "Webhook attempts, by outcome (delivered, retryable, failed).", {"outcome"});
  delivered_ = &requests.with({"delivered"});
  retryable_ = &requests.with({"retryable"});
  failed_ = &requests.with({"failed"});
  seconds_ =
      &registry->histogram("herald_webhook_request_seconds", "Time one webhook attempt took, in seconds.", {}).with({});
}

WebhookSender::~WebhookSender() {
  stop();
}

void WebhookSender::send(WebhookRequest req, std::function<void(WebhookOutcome)> done) {
  auto result = pool_.try_submit([this, req = std::move(req), done]() mutable {
    run(req, done);
    wipe(req.secret);
  });
  if (result == WorkerPool::Submit::queued) return;
  log::warn("webhook_busy", {{"reason", result == WorkerPool::Submit::full ? "queue full" : "stopping"}});
  WebhookOutcome busy;
  busy.retryable = true;
  busy.error = "busy";
  done(std::move(busy));
}

void WebhookSender::stop() {
  pool_.stop();
}

void WebhookSender::run(const WebhookRequest& req, const std::function<void(WebhookOutcome)>& done) {
  const auto start = std::chrono::steady_clock::now();
  WebhookOutcome outcome;
  try {
    outcome = post_webhook(req);
  } catch (const std::exception&) {
    outcome = transient("internal error");
  }
  if (seconds_) seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  metrics::Counter* counter = outcome.delivered ? delivered_ : outcome.retryable ? retryable_ : failed_;
  if (counter) counter->inc();
  done(std::move(outcome));
}

}  // namespace herald::delivery

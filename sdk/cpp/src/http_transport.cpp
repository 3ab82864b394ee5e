// libcurl behind a small blocking interface: one easy handle per client, reset before
// each call (which keeps its open connection), TLS 1.2+ with verification by default.
#include "http_transport.h"

#include <curl/curl.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>

namespace herald::sdk::detail {
namespace {

constexpr std::size_t kMaxResponseBytes = 64u << 20;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Capture {
  HttpResponse* response;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* c = static_cast<Capture*>(user);
  std::size_t bytes = size * n;
  if (c->response->body.size() + bytes > kMaxResponseBytes) {
    c->too_large = true;
    return 0;  // aborts the transfer
  }
  c->response->body.append(data, bytes);
  return bytes;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<Capture*>(user)->response;
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 1xx): start over
    r->request_id.clear();
    r->retry_after_s = 0;
    r->idempotent_replayed = false;
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "X-Request-Id")) {
    r->request_id = std::string(value);
  } else if (iequals(name, "Retry-After")) {
    int v = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), v).ec == std::errc()) r->retry_after_s = v;
  } else if (iequals(name, "Idempotent-Replayed")) {
    r->idempotent_replayed = iequals(value, "true");
  }
  return size * n;
}

Error transport_error(CURLcode code, const char* detail) {
  std::string message = curl_easy_strerror(code);
  if (detail && *detail) message = std::string(detail);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error{"timeout", message, 0, {}, 0};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
      return Error{"tls_error", message, 0, {}, 0};
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error{"invalid_argument", message, 0, {}, 0};
    default:
      return Error{"network_error", message, 0, {}, 0};
  }
}

}  // namespace

Result<std::unique_ptr<HttpTransport>> HttpTransport::make(ConnectionOptions options) {
  std::string_view url = options.base_url;
  std::size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string_view::npos ? "" : std::string(url.substr(0, scheme_end));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "https" && scheme != "http")
    return Error{"invalid_argument", "the server URL must start with https:// (or http://)", 0, {}, 0};
  std::string_view rest = url.substr(scheme_end + 3);
  std::size_t authority_end = rest.find('/');
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view prefix = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (authority.empty() || authority.find_first_of("?#@ ") != std::string_view::npos ||
      prefix.find_first_of("?# ") != std::string_view::npos)
    return Error{"invalid_argument", "the server URL must be scheme://host[:port][/path]", 0, {}, 0};
  global_init();
  CURL* curl = curl_easy_init();
  if (!curl) return Error{"network_error", "libcurl could not make a handle", 0, {}, 0};
  std::unique_ptr<HttpTransport> t(new HttpTransport(std::move(options)));
  t->origin_ = scheme + "://" + std::string(authority);
  t->prefix_ = std::string(prefix);
  t->curl_ = curl;
  return t;
}

HttpTransport::~HttpTransport() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& request) {
  std::lock_guard lock(mu_);
  CURL* c = static_cast<CURL*>(curl_);

  std::string url = origin_ + prefix_ + std::string(request.path);
  HttpResponse response;
  Capture capture{&response};
  char errbuf[CURL_ERROR_SIZE] = {0};

  struct curl_slist* headers = nullptr;
  auto add = [&headers](const std::string& h) { headers = curl_slist_append(headers, h.c_str()); };
  add("Accept: application/json");
  add("Expect:");  // no 100-continue round trip for larger bodies
  if (request.has_body) add("Content-Type: application/json");
  for (const auto& h : request.headers) add(h);
  struct SlistGuard {
    curl_slist* l;
    ~SlistGuard() { curl_slist_free_all(l); }
  } guard{headers};

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);  // send (and so sign) the path exactly as built
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "herald-sdk-cpp/" HERALD_SDK_VERSION);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &capture);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &capture);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (options_.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, std::string(request.method).c_str());
    if (request.has_body || request.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }

  CURLcode rc = curl_easy_perform(c);
  // The handle must not keep pointers to this frame's buffers and callbacks' data; a
  // reset drops the options and keeps the open connection.
  struct ResetAfter {
    CURL* c;
    ~ResetAfter() { curl_easy_reset(c); }
  } reset_after{c};
  if (rc != CURLE_OK) {
    if (capture.too_large) return Error{"invalid_response", "the answer exceeds 64 MiB", 0, {}, 0};
    return transport_error(rc, errbuf);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

Error error_from_response(const HttpResponse& r) {
  Error e{"http_error", "HTTP " + std::to_string(r.status) + " from the server", r.status, r.request_id,
          r.retry_after_s};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return e;
  const auto* err = v.get_object().if_contains("error");
  if (!err || !err->is_object()) return e;
  const auto& o = err->get_object();
  const auto* code = o.if_contains("code");
  if (!code || !code->is_string()) return e;
  e.code = std::string(code->get_string());
  if (const auto* m = o.if_contains("message"); m && m->is_string()) e.message = std::string(m->get_string());
  if (const auto* id = o.if_contains("request_id"); id && id->is_string() && e.request_id.empty())
    e.request_id = std::string(id->get_string());
  if (const auto* ra = o.if_contains("retry_after"); ra && ra->is_int64() && e.retry_after_s == 0)
    e.retry_after_s = static_cast<int>(ra->get_int64());
  if (const auto* al = o.if_contains("attempts_left"); al && al->is_int64())
    e.attempts_left = static_cast<int>(al->get_int64());
  return e;
}

}  // namespace herald::sdk::detail

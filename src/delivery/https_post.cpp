// post_json on libcurl, with the transport settings every outbound request shares; the
// header that carries the token is wiped once the request is done.
#include "delivery/https_post.h"

#include <openssl/crypto.h>

#include "delivery/curl_easy.h"

namespace herald::delivery {
namespace {

constexpr std::size_t kMaxReplyBytes = 64 * 1024;

std::size_t discard(char*, std::size_t size, std::size_t n, void* seen) {
  auto* total = static_cast<std::size_t*>(seen);
  *total += size * n;
  return *total > kMaxReplyBytes ? 0 : size * n;
}

Status failed(std::string why) {
  return make_error(Errc::kDeliveryFailed, std::move(why));
}

std::string transport_error(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "resolve failed";
    case CURLE_COULDNT_CONNECT:
      return "connect failed";
    case CURLE_PEER_FAILED_VERIFICATION:
      return "certificate verification failed";
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return "bad url";
    default:
      return std::string("transport error: ") + curl_easy_strerror(rc);
  }
}

}  // namespace

Status post_json(const JsonPost& req) {
  init_curl();
  const UrlParts parts = parse_url(req.url);
  if (parts.host.empty() || parts.has_credentials) return failed("bad url");
  if (parts.scheme != "https" && !(parts.scheme == "http" && req.allow_http)) return failed("bad url");
  CurlEasy h(curl_easy_init());
  if (!h) return failed("out of memory");
  set_common_options(h.get(), req.ca_file, req.timeout_ms > 0 ? req.timeout_ms : JsonPost{}.timeout_ms);
  curl_easy_setopt(h.get(), CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, req.allow_http ? "http,https" : "https");
  curl_easy_setopt(h.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "Herald-Audit-Witness/1");
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, req.body.data());
  std::string auth = req.bearer.empty() ? "" : "Authorization: Bearer " + std::string(req.bearer);
  CurlSlist headers;
  bool ok = slist_append(headers, "Content-Type: application/json") && slist_append(headers, "Expect:") &&
            (auth.empty() || slist_append(headers, auth));
  OPENSSL_cleanse(auth.data(), auth.size());
  if (!ok) return failed("out of memory");
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  std::size_t seen = 0;
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &seen);
  const CURLcode rc = curl_easy_perform(h.get());
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  // libcurl copied the header into its list: wipe that copy too before it is freed.
  if (!req.bearer.empty())
    for (curl_slist* l = headers.get(); l; l = l->next)
      if (l->data) OPENSSL_cleanse(l->data, std::char_traits<char>::length(l->data));
  if (status >= 200 && status < 300) return ok_status();
  if (status > 0) return failed("http " + std::to_string(status));
  return failed(transport_error(rc));
}

}  // namespace herald::delivery

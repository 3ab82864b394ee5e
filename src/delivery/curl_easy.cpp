// libcurl plumbing shared by the outbound senders.
#include "delivery/curl_easy.h"

#include <mutex>
#include <stdexcept>

namespace herald::delivery {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("libcurl initialisation failed");
  });
}

bool slist_append(CurlSlist& list, const std::string& item) {
  curl_slist* next = curl_slist_append(list.get(), item.c_str());
  if (!next) return false;
  (void)list.release();
  list.reset(next);
  return true;
}

UrlParts parse_url(const std::string& url) {
  UrlParts parts;
  CURLU* u = curl_url();
  if (!u) return parts;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    auto get = [u](CURLUPart part, std::string& out) {
      char* v = nullptr;
      if (curl_url_get(u, part, &v, 0) == CURLUE_OK && v) out = v;
      curl_free(v);
    };
    get(CURLUPART_SCHEME, parts.scheme);
    get(CURLUPART_HOST, parts.host);
    std::string user, password;
    get(CURLUPART_USER, user);
    get(CURLUPART_PASSWORD, password);
    parts.has_credentials = !user.empty() || !password.empty();
  }
  curl_url_cleanup(u);
  return parts;
}

void set_common_options(CURL* h, const std::string& ca_file, long timeout_ms) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
}

}  // namespace herald::delivery

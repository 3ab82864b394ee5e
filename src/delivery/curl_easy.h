// Small RAII owners for libcurl handles and the process-wide curl initialisation that
// the SMTP and HTTP senders share. Internal to delivery.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace herald::delivery {

// Initialises libcurl once per process (thread-safe).
void init_curl();

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Appends to a list owned by `list`; false when curl cannot allocate.
bool slist_append(CurlSlist& list, const std::string& item);

// The scheme ("https") and host of `url` as libcurl parses it, or empty strings when it
// does not parse; `has_credentials` is set when the URL carries a user or password.
struct UrlParts {
  std::string scheme;
  std::string host;
  bool has_credentials = false;
};
UrlParts parse_url(const std::string& url);

// The verification and transport settings every outbound request uses: TLS 1.2 or
// newer, peer and host verification, no redirects, no signals, a total timeout.
void set_common_options(CURL* h, const std::string& ca_file, long timeout_ms);

}  // namespace herald::delivery

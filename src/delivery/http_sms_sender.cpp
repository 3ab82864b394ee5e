// One HTTPS request per SMS; the provider's reply body is read (bounded) and dropped,
// since it may echo the message and its code.
#include "delivery/http_sms_sender.h"

#include <fmt/format.h>

#include "delivery/curl_easy.h"

namespace herald::delivery {
namespace {

constexpr std::size_t kMaxReply = std::size_t{64} * 1024;

size_t discard_reply(char*, size_t size, size_t nmemb, void* userp) {
  auto* total = static_cast<std::size_t*>(userp);
  *total += size * nmemb;
  // Returning less than given aborts the transfer: a provider does not need megabytes to say "accepted".
  return *total > kMaxReply ? 0 : size * nmemb;
}

}  // namespace

HttpSmsSender::HttpSmsSender(SmsTemplate tpl) : t_(std::move(tpl)) {
  init_curl();
}

HttpSmsSender::~HttpSmsSender() {
  wipe(t_.password);
  wipe(t_.token);
}

Status HttpSmsSender::deliver(const OutboundMessage& msg) const {
  auto rendered = render_sms_request(t_, msg);
  if (!rendered) return rendered.error();
  const SmsRequest& r = *rendered;

  CurlEasy h(curl_easy_init());
  if (!h) return delivery_failed("sms: could not create a request");
  set_common_options(h.get(), t_.ca_file, static_cast<long>(t_.timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h.get(), CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "herald");
  if (r.method == "GET") {
    curl_easy_setopt(h.get(), CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, r.body.data());
    if (r.method != "POST") curl_easy_setopt(h.get(), CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  CurlSlist headers;
  bool ok = true;
  for (const auto& [name, value] : r.headers) {
    std::string line = name;
    line += ": ";
    line += value;
    ok = ok && slist_append(headers, line);
    wipe(line);  // a header may carry the token
  }
  // No "Expect: 100-continue" round trip before the body.
  ok = ok && slist_append(headers, "Expect:");
  if (!ok) return delivery_failed("sms: out of memory");
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  if (r.auth == "basic") {
    curl_easy_setopt(h.get(), CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h.get(), CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(h.get(), CURLOPT_PASSWORD, r.password.c_str());
  } else if (r.auth == "bearer") {
    curl_easy_setopt(h.get(), CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
    curl_easy_setopt(h.get(), CURLOPT_XOAUTH2_BEARER, r.token.c_str());
  }
  std::size_t reply_bytes = 0;
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, discard_reply);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &reply_bytes);

  CURLcode rc = curl_easy_perform(h.get());
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status > 0)) {
    return delivery_failed(fmt::format("sms provider {}: {}", t_.provider, curl_easy_strerror(rc)));
  }
  if (status >= 200 && status < 300) return ok_status();
  return delivery_failed(fmt::format("sms provider {} replied HTTP {}", t_.provider, status));
}

}  // namespace herald::delivery

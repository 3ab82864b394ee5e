// One SMTP transaction per message: TLS first, then optional AUTH, MAIL, RCPT, DATA.
#include "delivery/smtp_sender.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "crypto/random.h"
#include "delivery/curl_easy.h"

namespace herald::delivery {
namespace {

struct UploadState {
  const std::string* data;
  std::size_t pos = 0;
};

size_t read_upload(char* buffer, size_t size, size_t nitems, void* userp) {
  auto* st = static_cast<UploadState*>(userp);
  std::size_t n = std::min(size * nitems, st->data->size() - st->pos);
  std::memcpy(buffer, st->data->data() + st->pos, n);
  st->pos += n;
  return n;
}

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : address.substr(at + 1);
}

}  // namespace

SmtpSender::SmtpSender(SmtpSettings settings) : s_(std::move(settings)) {
  init_curl();
  // libcurl greets with the URL's path as the EHLO name and "localhost" without one;
  // relays that check the greeting prefer a real domain, so the From domain stands in.
  CURLU* u = curl_url();
  if (u && curl_url_set(u, CURLUPART_URL, s_.url.c_str(), 0) == CURLUE_OK) {
    char* path = nullptr;
    bool empty = curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || !path || std::string_view(path) == "/";
    curl_free(path);
    char* with_domain = nullptr;
    if (empty && curl_url_set(u, CURLUPART_PATH, ("/" + domain_of(s_.from.address)).c_str(), 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &with_domain, 0) == CURLUE_OK && with_domain)
      s_.url = with_domain;
    curl_free(with_domain);
  }
  curl_url_cleanup(u);
}

SmtpSender::~SmtpSender() {
  wipe(s_.password);
}

Status SmtpSender::deliver(const OutboundMessage& msg) const {
  const std::string message_id = crypto::random_hex(16) + "@" + domain_of(s_.from.address);
  auto mail = build_mail({.from = s_.from,
                          .to = msg.to,
                          .subject = msg.subject,
                          .text = msg.text,
                          .date = std::chrono::system_clock::now(),
                          .message_id = message_id});
  if (!mail) return mail.error();
  std::string data = std::move(*mail);

  CurlEasy h(curl_easy_init());
  if (!h) {
    wipe(data);
    return delivery_failed("smtp: could not create a request");
  }
  set_common_options(h.get(), s_.ca_file, static_cast<long>(s_.timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_URL, s_.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  // For smtp:// this makes STARTTLS mandatory: a server that does not offer it (or
  // a man in the middle that strips it) fails the send instead of getting clear text.
  curl_easy_setopt(h.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!s_.username.empty()) {
    curl_easy_setopt(h.get(), CURLOPT_USERNAME, s_.username.c_str());
    curl_easy_setopt(h.get(), CURLOPT_PASSWORD, s_.password.c_str());
  }
  const std::string mail_from = "<" + s_.from.address + ">";
  curl_easy_setopt(h.get(), CURLOPT_MAIL_FROM, mail_from.c_str());
  CurlSlist rcpt;
  if (!slist_append(rcpt, "<" + msg.to + ">")) {
    wipe(data);
    return delivery_failed("smtp: out of memory");
  }
  curl_easy_setopt(h.get(), CURLOPT_MAIL_RCPT, rcpt.get());
  UploadState upload{&data};
  curl_easy_setopt(h.get(), CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(h.get(), CURLOPT_READDATA, &upload);
  curl_easy_setopt(h.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));

  CURLcode rc = curl_easy_perform(h.get());
  wipe(data);
  if (rc == CURLE_OK) return ok_status();
  // The reply code, not the reply text: servers echo addresses and other details there.
  long reply = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &reply);
  if (reply >= 400) return delivery_failed(fmt::format("smtp: {} (server replied {})", curl_easy_strerror(rc), reply));
  return delivery_failed(fmt::format("smtp: {}", curl_easy_strerror(rc)));
}

}  // namespace herald::delivery

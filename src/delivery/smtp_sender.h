// SmtpSender: e-mail over SMTP with libcurl, always encrypted: STARTTLS (required,
// never falling back to clear text) for smtp://, implicit TLS for smtps://.
#pragma once

#include <chrono>
#include <string>

#include "delivery/blocking_sender.h"
#include "delivery/mail_message.h"

namespace herald::delivery {

struct SmtpSettings {
  std::string url;  // smtp://host:port or smtps://host:port, checked by make_senders
  std::string username;
  std::string password;
  Mailbox from;
  std::string ca_file;
  std::chrono::milliseconds timeout{10'000};
};

class SmtpSender final : public BlockingSender {
 public:
  explicit SmtpSender(SmtpSettings settings);
  ~SmtpSender() override;

  std::string_view name() const override { return "smtp"; }
  Status deliver(const OutboundMessage& msg) const override;

 private:
  SmtpSettings s_;
};

}  // namespace herald::delivery

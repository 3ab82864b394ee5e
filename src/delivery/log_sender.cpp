// The log provider: one line per message, with personal data and codes masked.
#include "delivery/log_sender.h"

#include "core/log.h"

namespace herald::delivery {

std::string mask_recipient(std::string_view to) {
  if (auto at = to.rfind('@'); at != std::string_view::npos) {
    if (at == 0) return std::string("***") + std::string(to.substr(at));
    return std::string(to.substr(0, 1)) + "***" + std::string(to.substr(at));
  }
  if (to.size() < 6) return "***";
  return std::string(to.substr(0, 2)) + "***" + std::string(to.substr(to.size() - 2));
}

std::string mask_secret(std::string_view text, std::string_view secret) {
  if (secret.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (;;) {
    auto hit = text.find(secret, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out += "******";
    pos = hit + secret.size();
  }
  out.append(text.substr(pos));
  return out;
}

LogSender::LogSender(bool dev, LogSink sink) : dev_(dev), sink_(std::move(sink)) {}

Status LogSender::deliver(const OutboundMessage& msg) const {
  std::string to = dev_ ? msg.to : mask_recipient(msg.to);
  std::string text = dev_ ? msg.text : mask_secret(msg.text, msg.secret);
  std::string subject = dev_ ? msg.subject : mask_secret(msg.subject, msg.secret);
  LoggedMessage line{msg.channel, msg.reference, to, subject, text};
  if (sink_) {
    sink_(line);
  } else {
    log::info("delivery_logged", {{"channel", line.channel},
                                  {"reference", line.reference},
                                  {"to", line.to},
                                  {"subject", line.subject},
                                  {"text", line.text}});
  }
  wipe(text);
  return ok_status();
}

}  // namespace herald::delivery

// LogSender: the development provider. Writes each message to the log instead of
// sending it; recipient and secret are masked unless the server runs in dev mode.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "delivery/blocking_sender.h"

namespace herald::delivery {

// What the log line shows, after masking.
struct LoggedMessage {
  std::string_view channel;
  std::string_view reference;
  std::string_view to;
  std::string_view subject;
  std::string_view text;
};
using LogSink = std::function<void(const LoggedMessage&)>;

// "+4915112345689" -> "+4***89", "alice@example.com" -> "a***@example.com".
std::string mask_recipient(std::string_view to);
// `text` with every occurrence of `secret` replaced by "******".
std::string mask_secret(std::string_view text, std::string_view secret);

class LogSender final : public BlockingSender {
 public:
  // `sink` receives each line's content; the default writes an info line to the log.
  explicit LogSender(bool dev, LogSink sink = {});

  std::string_view name() const override { return "log"; }
  Status deliver(const OutboundMessage& msg) const override;

 private:
  bool dev_;
  LogSink sink_;
};

}  // namespace herald::delivery

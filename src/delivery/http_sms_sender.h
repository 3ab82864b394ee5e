// HttpSmsSender: SMS through a provider's HTTPS API (the generic `http` provider and
// the presets), one request per message, 2xx meaning accepted.
#pragma once

#include "delivery/blocking_sender.h"
#include "delivery/sms_request.h"

namespace herald::delivery {

class HttpSmsSender final : public BlockingSender {
 public:
  explicit HttpSmsSender(SmsTemplate tpl);
  ~HttpSmsSender() override;

  std::string_view name() const override { return t_.provider; }
  Status deliver(const OutboundMessage& msg) const override;

 private:
  SmsTemplate t_;
};

}  // namespace herald::delivery

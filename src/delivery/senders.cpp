// make_senders: checks [delivery] and builds one sender per channel over a shared
// worker pool.
#include <algorithm>
#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include "core/config.h"
#include "core/log.h"
#include "delivery/curl_easy.h"
#include "delivery/http_sms_sender.h"
#include "delivery/log_sender.h"
#include "delivery/queued_sender.h"
#include "delivery/sender.h"
#include "delivery/smtp_sender.h"
#include "delivery/worker_pool.h"

namespace herald::delivery {
namespace {

Error invalid(std::string_view key, std::string_view why) {
  return make_error(Errc::kInvalidConfig, fmt::format("{}: {}", key, why));
}

bool readable(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char c;
  return f.is_open() && (f.read(&c, 1), f.gcount() == 1);
}

class ServerSenders final : public Senders {
 public:
  ServerSenders(std::size_t workers, std::size_t queue_max) : pool_(workers, queue_max) {}
  // Queued jobs refer to the senders: drain them before the senders go.
  ~ServerSenders() override { pool_.stop(); }

  void set(std::unique_ptr<BlockingSender> email, std::unique_ptr<BlockingSender> sms, metrics::Registry* metrics) {
    email_ = std::make_unique<QueuedSender>("email", std::move(email), pool_, metrics);
    sms_ = std::make_unique<QueuedSender>("sms", std::move(sms), pool_, metrics);
  }

  Sender* for_channel(std::string_view channel) override {
    if (channel == "email") return email_.get();
    if (channel == "sms") return sms_.get();
    return nullptr;
  }
  void stop() override { pool_.stop(); }

 private:
  WorkerPool pool_;
  std::unique_ptr<QueuedSender> email_, sms_;
};

Result<std::unique_ptr<BlockingSender>> make_email(const DeliveryConfig& cfg, bool dev) {
  if (cfg.email_provider == "log") return std::unique_ptr<BlockingSender>(std::make_unique<LogSender>(dev));
  if (cfg.email_provider != "smtp") return invalid("delivery.email_provider", "must be log or smtp");
  const SmtpConfig& c = cfg.smtp;
  if (c.url.empty()) return invalid("delivery.smtp.url", "required with email_provider = smtp");
  auto parts = parse_url(c.url);
  std::string scheme = parts.scheme;
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (scheme != "smtp" && scheme != "smtps") return invalid("delivery.smtp.url", "must start with smtp:// or smtps://");
  if (parts.host.empty()) return invalid("delivery.smtp.url", "has no host");
  if (parts.has_credentials)
    return invalid("delivery.smtp.url", "must not carry credentials; use delivery.smtp.username and password");
  if (c.from.empty()) return invalid("delivery.smtp.from", "required with email_provider = smtp");
  auto from = parse_mailbox(c.from);
  if (!from) return invalid("delivery.smtp.from", "not a valid e-mail address");
  if (!c.username.empty() && c.password.empty())
    return invalid("delivery.smtp.password", "required when delivery.smtp.username is set");
  if (!c.ca_file.empty() && !readable(c.ca_file)) return invalid("delivery.smtp.ca_file", "cannot be read");
  SmtpSettings s{.url = c.url,
                 .username = c.username,
                 .password = c.password,
                 .from = std::move(*from),
                 .ca_file = c.ca_file,
                 .timeout = c.timeout};
  return std::unique_ptr<BlockingSender>(std::make_unique<SmtpSender>(std::move(s)));
}

Result<std::unique_ptr<BlockingSender>> make_sms(const DeliveryConfig& cfg, bool dev) {
  if (cfg.sms.provider == "log") return std::unique_ptr<BlockingSender>(std::make_unique<LogSender>(dev));
  auto tpl = resolve_sms_template(cfg.sms);
  if (!tpl) return tpl.error();
  if (!tpl->ca_file.empty() && !readable(tpl->ca_file)) return invalid("delivery.sms.ca_file", "cannot be read");
  return std::unique_ptr<BlockingSender>(std::make_unique<HttpSmsSender>(std::move(*tpl)));
}

}  // namespace

Result<std::unique_ptr<Senders>> make_senders(const DeliveryConfig& cfg, bool dev, metrics::Registry* metrics) {
  if (cfg.workers < 1) return invalid("delivery.workers", "must be at least 1");
  if (cfg.queue_max < 1) return invalid("delivery.queue_max", "must be at least 1");
  auto email = make_email(cfg, dev);
  if (!email) return email.error();
  auto sms = make_sms(cfg, dev);
  if (!sms) return sms.error();
  auto senders = std::make_unique<ServerSenders>(cfg.workers, cfg.queue_max);
  log::info(
      "delivery_configured",
      {{"email", (*email)->name()}, {"sms", (*sms)->name()}, {"workers", cfg.workers}, {"queue_max", cfg.queue_max}});
  // Outside development the log provider delivers nothing to anyone: say so loudly.
  if (!dev && ((*email)->name() == "log" || (*sms)->name() == "log"))
    log::warn("delivery_log_only", {{"message",
                                     "e-mail or SMS goes only to the log (masked): set delivery.email_provider and "
                                     "delivery.sms.provider to reach people"},
                                    {"email", (*email)->name()},
                                    {"sms", (*sms)->name()}});
  senders->set(std::move(*email), std::move(*sms), metrics);
  return std::unique_ptr<Senders>(std::move(senders));
}

}  // namespace herald::delivery

// The log provider: recipients and codes masked in the log, shown in clear only in dev.
#include "delivery/log_sender.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/config.h"
#include "sinks.h"

namespace herald::delivery {
namespace {

struct Captured {
  std::string channel, reference, to, subject, text;
};

std::vector<Captured> run(bool dev, const OutboundMessage& msg) {
  std::vector<Captured> lines;
  LogSender sender(dev, [&](const LoggedMessage& m) {
    lines.push_back({std::string(m.channel), std::string(m.reference), std::string(m.to), std::string(m.subject),
                     std::string(m.text)});
  });
  EXPECT_TRUE(sender.deliver(msg).ok());
  return lines;
}

TEST(LogSender, MasksPhoneAndCode) {
  OutboundMessage msg{.channel = "sms",
                      .to = "+4915112345689",
                      .subject = "",
                      .text = "Your Herald code is 482913. Code 482913 expires in 5 minutes.",
                      .secret = "482913",
                      .reference = "ver_1"};
  auto lines = run(false, msg);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].channel, "sms");
  EXPECT_EQ(lines[0].reference, "ver_1");
  EXPECT_EQ(lines[0].to, "+4***89");
  EXPECT_EQ(lines[0].text, "Your Herald code is ******. Code ****** expires in 5 minutes.");
  EXPECT_EQ(lines[0].text.find("482913"), std::string::npos);
}

TEST(LogSender, MasksEmailAndCodeInSubject) {
  OutboundMessage msg{.channel = "email",
                      .to = "alice@example.com",
                      .subject = "Code 777111",
                      .text = "Use 777111 to sign in.",
                      .secret = "777111",
                      .reference = "ver_2"};
  auto lines = run(false, msg);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].to, "a***@example.com");
  EXPECT_EQ(lines[0].subject, "Code ******");
  EXPECT_EQ(lines[0].text, "Use ****** to sign in.");
}

TEST(LogSender, DevShowsRecipientAndCodeInClear) {
  OutboundMessage msg{.channel = "sms", .to = "+4915112345689", .text = "code 482913", .secret = "482913"};
  auto lines = run(true, msg);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].to, "+4915112345689");
  EXPECT_EQ(lines[0].text, "code 482913");
}

TEST(LogSender, MaskingHelpers) {
  EXPECT_EQ(mask_recipient("+4915112345689"), "+4***89");
  EXPECT_EQ(mask_recipient("12345"), "***");
  EXPECT_EQ(mask_recipient("a@example.com"), "a***@example.com");
  EXPECT_EQ(mask_recipient("@example.com"), "***@example.com");
  EXPECT_EQ(mask_secret("abc", ""), "abc");
  EXPECT_EQ(mask_secret("11111", "11"), "************1");
}

TEST(LogSender, MakeSendersLogProviderCompletesOk) {
  DeliveryConfig cfg;  // log for both channels by default
  auto senders = make_senders(cfg, false, nullptr);
  ASSERT_TRUE(senders.ok());
  auto* email = (*senders)->for_channel("email");
  auto* sms = (*senders)->for_channel("sms");
  ASSERT_NE(email, nullptr);
  ASSERT_NE(sms, nullptr);
  EXPECT_EQ((*senders)->for_channel("pigeon"), nullptr);
  EXPECT_EQ(email->name(), "log");
  EXPECT_EQ(sms->name(), "log");
  EXPECT_TRUE(testing::send_and_wait(*sms, {.channel = "sms", .to = "+15550001111", .text = "hi"}).ok());
  EXPECT_TRUE(testing::send_and_wait(*email, {.channel = "email", .to = "a@example.com", .text = "hi"}).ok());
  (*senders)->stop();
}

}  // namespace
}  // namespace herald::delivery

// The recipient and locale checks shared by otp and messages.
#include "delivery/recipient.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::delivery {
namespace {

TEST(DeliveryRecipient, E164) {
  for (const char* ok : {"+4915123456789", "+12025550123", "+1234567", "+123456789012345"})
    EXPECT_TRUE(valid_e164(ok)) << ok;
  for (const char* bad : {"", "4915123456789", "+0123456789", "+123456", "+1234567890123456", "+49 151 234",
                          "+49151-234567", "++4915123456"})
    EXPECT_FALSE(valid_e164(bad)) << bad;
}

TEST(DeliveryRecipient, Email) {
  for (const char* ok : {"a@example.com", "first.last+tag@sub.example.co.uk", "x_y@xn--bcher-kva.example"})
    EXPECT_TRUE(valid_email(ok)) << ok;
  std::string long_local(65, 'a');
  for (std::string bad :
       {std::string(""), std::string("a"), std::string("@example.com"), std::string("a@"), std::string("a@localhost"),
        std::string("a@@example.com"), std::string("a@b@example.com"), std::string(".a@example.com"),
        std::string("a..b@example.com"), std::string("a b@example.com"), std::string("a@exa mple.com"),
        std::string("a@-example.com"), std::string("a@example.com\r\nBcc: x@evil.example"),
        std::string("\"a\"@example.com"), long_local + "@example.com",
        std::string("a@") + std::string(250, 'b') + ".com", std::string("m\xc3\xbcller@example.com")})
    EXPECT_FALSE(valid_email(bad)) << bad;
}

TEST(DeliveryRecipient, Locale) {
  EXPECT_TRUE(valid_locale("en"));
  EXPECT_TRUE(valid_locale("pt-BR"));
  EXPECT_TRUE(valid_locale("zh-Hant-TW"));
  EXPECT_FALSE(valid_locale("e"));
  EXPECT_FALSE(valid_locale("en_US"));
  EXPECT_FALSE(valid_locale("en-"));
  EXPECT_FALSE(valid_locale(""));
  EXPECT_FALSE(valid_locale(std::string(36, 'a')));
}

}  // namespace
}  // namespace herald::delivery

#include "otp/recipient.h"

#include <gtest/gtest.h>

namespace herald::otp {
namespace {

TEST(OtpRecipient, OtherFields) {
  EXPECT_TRUE(valid_device_id("iPhone-4F1A"));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("has space"));
  EXPECT_FALSE(valid_device_id(std::string(129, 'd')));
  EXPECT_TRUE(valid_purpose("password_change"));
  EXPECT_TRUE(valid_purpose("payment.confirm-2"));
  EXPECT_FALSE(valid_purpose("Login"));
  EXPECT_FALSE(valid_purpose(""));
  EXPECT_TRUE(valid_ip("203.0.113.7"));
  EXPECT_TRUE(valid_ip("2001:db8::1"));
  EXPECT_FALSE(valid_ip("203.0.113.7:443"));
  EXPECT_FALSE(valid_ip("example.com"));
  EXPECT_FALSE(valid_ip(""));
}

TEST(OtpRecipient, NormalFormLowerCasesAddressesOnly) {
  EXPECT_EQ(normalize_recipient("Alice@Example.COM"), "alice@example.com");
  EXPECT_EQ(normalize_recipient("+4915123456789"), "+4915123456789");
}

}  // namespace
}  // namespace herald::otp

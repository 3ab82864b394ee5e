// Known answers from RFC 4648 section 10, and the strictness that makes one byte
// string have exactly one accepted encoding.
#include "crypto/encoding.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace herald::crypto {
namespace {

const std::vector<std::pair<std::string, std::string>> kRfc4648Base64 = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(EncodingBase64, Rfc4648Vectors) {
  for (const auto& [plain, encoded] : kRfc4648Base64) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(EncodingBase64Url, Rfc4648VectorsWithoutPadding) {
  for (const auto& [plain, encoded] : kRfc4648Base64) {
    std::string unpadded = encoded.substr(0, encoded.find('='));
    EXPECT_EQ(base64url_encode(plain), unpadded) << plain;
    auto decoded = base64url_decode(unpadded);
    ASSERT_TRUE(decoded.has_value()) << unpadded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(EncodingBase64Url, UsesTheUrlAlphabet) {
  std::string bytes = "\xfb\xff\xbf";
  EXPECT_EQ(base64_encode(bytes), "+/+/");
  EXPECT_EQ(base64url_encode(bytes), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), bytes);
  EXPECT_FALSE(base64url_decode("+/+/").has_value());
  EXPECT_FALSE(base64_decode("-_-_").has_value());
}

TEST(EncodingBase64Url, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    std::string part = all.substr(0, n);
    EXPECT_EQ(base64url_decode(base64url_encode(part)), part);
    EXPECT_EQ(base64_decode(base64_encode(part)), part);
  }
}

TEST(EncodingBase64Url, RefusesPaddingWhitespaceAndStrayCharacters) {
  for (const char* bad : {"Zg==", "Zg=", "Zm8=", "Zm9v ", " Zm9v", "Zm\n9v", "Zm9v\t", "Zm.9", "Zm9v!", "Z", "Zm9vY",
                          "Zm+v", "Zm/v", "Zm9\xc3\xa9"}) {
    EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST(EncodingBase64Url, RefusesNonZeroTrailingBits) {
  // "Zg" is the canonical spelling of "f"; "Zh" decodes to the same byte with a stray bit.
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_FALSE(base64url_decode("Zh").has_value());
  EXPECT_FALSE(base64url_decode("Zm9").has_value());  // "Zm8" is canonical for "fo"
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
}

TEST(EncodingBase64, RefusesBadPaddingAndCharacters) {
  for (const char* bad : {"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9=", "Zh==", "Zg=a",
                          "Z=g=", "=Zg=", "Zm9v====", "Zm9v\n", "Zm 9v", "Zm9v Zm9v", "Zm9v\r\n", "Zm-9", "Zm_9"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

TEST(EncodingHex, EncodesLowercaseAndDecodesEitherCase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode("foobar"), "666f6f626172");
  EXPECT_EQ(hex_encode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(hex_decode("666f6f626172"), "foobar");
  EXPECT_EQ(hex_decode("666F6F626172"), "foobar");
  EXPECT_EQ(hex_decode(""), "");
}

TEST(EncodingHex, RefusesOddLengthAndNonHex) {
  for (const char* bad : {"6", "666", "6g", "0x66", " 66", "66 ", "6-", "zz"}) {
    EXPECT_FALSE(hex_decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace herald::crypto

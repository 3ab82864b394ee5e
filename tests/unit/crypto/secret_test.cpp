// SecretBytes keeps, copies, moves and clears bytes; ct_equal compares; random_secret
// draws fresh bytes.
#include "crypto/secret.h"

#include <gtest/gtest.h>

#include <utility>

namespace herald::crypto {
namespace {

TEST(SecretBytes, HoldsWhatItIsGiven) {
  SecretBytes zeros(4);
  EXPECT_EQ(zeros.view(), std::string_view("\0\0\0\0", 4));
  SecretBytes text(std::string_view("key material"));
  EXPECT_EQ(text.view(), "key material");
  const unsigned char raw[] = {1, 2, 3};
  SecretBytes from_pointer(raw, sizeof raw);
  EXPECT_EQ(from_pointer.size(), 3u);
  EXPECT_EQ(from_pointer.data()[2], 3);
  EXPECT_TRUE(SecretBytes().empty());
}

TEST(SecretBytes, CopiesAreIndependent) {
  SecretBytes a(std::string_view("abc"));
  SecretBytes b(a);
  b.data()[0] = 'x';
  EXPECT_EQ(a.view(), "abc");
  EXPECT_EQ(b.view(), "xbc");
  SecretBytes c(std::string_view("longer value"));
  c = a;
  EXPECT_EQ(c.view(), "abc");
  c = c;  // self-assignment keeps the bytes
  EXPECT_EQ(c.view(), "abc");
}

TEST(SecretBytes, MoveLeavesTheSourceEmpty) {
  SecretBytes a(std::string_view("secret"));
  SecretBytes b(std::move(a));
  EXPECT_EQ(b.view(), "secret");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  SecretBytes c(std::string_view("other"));
  c = std::move(b);
  EXPECT_EQ(c.view(), "secret");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytes, ClearWipesAndEmpties) {
  SecretBytes a(std::string_view("secret"));
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.size(), 0u);
}

TEST(SecretCtEqual, ComparesContentAndLength) {
  EXPECT_TRUE(ct_equal("", ""));
  EXPECT_TRUE(ct_equal("abc", "abc"));
  EXPECT_FALSE(ct_equal("abc", "abd"));
  EXPECT_FALSE(ct_equal("abc", "xbc"));
  EXPECT_FALSE(ct_equal("abc", "abcd"));
  EXPECT_FALSE(ct_equal("", "a"));
  EXPECT_TRUE(ct_equal(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(ct_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(SecretRandom, HasTheSizeAskedAndDiffers) {
  SecretBytes a = random_secret(32);
  SecretBytes b = random_secret(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_FALSE(ct_equal(a.view(), b.view()));
  EXPECT_NE(a.view(), std::string(32, '\0'));
  EXPECT_TRUE(random_secret(0).empty());
}

}  // namespace
}  // namespace herald::crypto

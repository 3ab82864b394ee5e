// The per-source connection cap: a source at its cap gets no slot, another source
// does, and a closed connection gives its slot back.
#include "net/detail/source_connections.h"

#include <gtest/gtest.h>

#include <vector>

namespace herald::net::detail {
namespace {

TEST(SourceConnections, OneSourceIsCappedAndAnotherIsNot) {
  SourceConnections s;
  std::vector<SourceConnections::Slot> held;
  for (int i = 0; i < 3; ++i) {
    auto slot = s.acquire("198.51.100.1", 3);
    ASSERT_TRUE(slot);
    held.push_back(std::move(*slot));
  }
  EXPECT_FALSE(s.acquire("198.51.100.1", 3));
  EXPECT_TRUE(s.acquire("198.51.100.2", 3));
  EXPECT_EQ(s.open("198.51.100.1"), 3u);
  held.pop_back();
  EXPECT_EQ(s.open("198.51.100.1"), 2u);
  EXPECT_TRUE(s.acquire("198.51.100.1", 3));
  EXPECT_TRUE(s.acquire("198.51.100.1", 0));  // 0: no cap
  held.clear();
  EXPECT_EQ(s.open("198.51.100.1"), 0u);
}

}  // namespace
}  // namespace herald::net::detail

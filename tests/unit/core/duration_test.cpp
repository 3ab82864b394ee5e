#include "core/duration.h"

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*parse_duration("250ms"), Millis(250));
  EXPECT_EQ(*parse_duration("10s"), Millis(10000));
  EXPECT_EQ(*parse_duration("2m"), Millis(120000));
  EXPECT_EQ(*parse_duration("1h"), Millis(3600000));
  EXPECT_EQ(*parse_duration("7d"), Millis(604800000));
  EXPECT_EQ(*parse_duration("0s"), Millis(0));
}

TEST(Duration, RefusesAmbiguousOrBrokenInput) {
  for (const char* bad : {"", "10", "s", "-1s", "1.5s", "10 s", "10sec", "1w", "1.5d", "99999999999999999999h"})
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(Millis(1500)), "1500ms");
  EXPECT_EQ(format_duration(Millis(30000)), "30s");
  EXPECT_EQ(format_duration(Millis(120000)), "2m");
  EXPECT_EQ(format_duration(Millis(7200000)), "2h");
  EXPECT_EQ(format_duration(Millis(172800000)), "2d");
  EXPECT_EQ(format_duration(Millis(0)), "0s");
}

}  // namespace
}  // namespace herald

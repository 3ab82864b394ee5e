#include "core/log.h"

#include <gtest/gtest.h>

namespace herald::log {
namespace {

TEST(Log, JsonLineEscapesEverything) {
  std::string line = render(true, Level::Warn, "evt", {{"s", "a\"b\\c\nd\x01"}, {"n", 42}, {"b", true}, {"d", 1.5}},
                            "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(line,
            "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"warn\",\"event\":\"evt\",\"s\":\"a\\\"b\\\\c\\nd\\u0001\","
            "\"n\":42,\"b\":true,\"d\":1.5}");
}

TEST(Log, TextLineQuotesOnlyWhatNeedsIt) {
  std::string line = render(false, Level::Info, "http_request", {{"path", "/healthz"}, {"msg", "two words"}, {"e", ""}},
                            "T");
  EXPECT_EQ(line, "T info  http_request path=/healthz msg=\"two words\" e=\"\"");
}

TEST(Log, ForgedNewlinesCannotStartANewTextLine) {
  std::string line = render(false, Level::Info, "x", {{"v", "a\n2026 error fake"}}, "T");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace herald::log

#include "api/errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace herald::api {
namespace {

std::string slurp(const std::string& rel) {
  std::ifstream f(std::string(HERALD_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The rows `| `code` | ...` of the markdown table that follows `heading` in `doc`.
std::map<std::string, std::string> doc_rows(const std::string& doc, const std::string& heading) {
  std::map<std::string, std::string> rows;
  auto at = doc.find(heading);
  if (at == std::string::npos) return rows;
  auto end = doc.find("\n## ", at + heading.size());
  std::string section = doc.substr(at, end == std::string::npos ? std::string::npos : end - at);
  static const std::regex row(R"(\n\| `([a-z_]+)` \|([^\n]*))");
  for (auto it = std::sregex_iterator(section.begin(), section.end(), row); it != std::sregex_iterator(); ++it)
    rows[(*it)[1]] = (*it)[2];
  return rows;
}

TEST(Errors, TableCodesAreUniqueAndApiStatusesAreErrors) {
  std::set<std::string_view> codes;
  for (const auto& e : errc_table()) {
    EXPECT_TRUE(codes.insert(e.code).second) << e.code;
    EXPECT_FALSE(e.message.empty()) << e.code;
    EXPECT_EQ(errc_code(e.errc), e.code);
    EXPECT_EQ(errc_from_code(e.code), e.errc);
    if (e.surfaces & surface::kApi) {
      EXPECT_GE(e.http_status, 400) << e.code;
      EXPECT_LT(e.http_status, 600) << e.code;
    } else {
      EXPECT_EQ(e.http_status, 0) << e.code << " has a status but is not an API code";
    }
  }
  EXPECT_FALSE(errc_from_code("no_such_code").has_value());
}

TEST(Errors, ResponseCarriesCodeMessageAndRequestId) {
  auto r = error_response(Errc::kBodyTooLarge, "rid-1");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"body_too_large\",\"message\":\"The request body exceeds "
            "limits.max_body_bytes.\",\"request_id\":\"rid-1\"}}");
}

TEST(Errors, ACodeThatIsNotAnApiCodeAnswersInternal) {
  auto r = error_response(Errc::kInvalidConfig, "rid-2", "delivery.sms.url: not a URL");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.error_code, "internal");
  EXPECT_NE(r.body.find("\"code\":\"internal\""), std::string::npos);
  auto p = error_response(Errc::kPermissionDenied, "rid-3");  // a protocol-only code
  EXPECT_EQ(p.status, 500);
}

TEST(Errors, RetryAfterAndAttemptsLeftTravelWithTheError) {
  auto r = error_from("rid", make_retry_error(Errc::kOtpResendTooSoon, "wait", 42));
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("\"retry_after\":42"), std::string::npos);
  bool header = false;
  for (const auto& [k, v] : r.headers) header |= (k == "Retry-After" && v == "42");
  EXPECT_TRUE(header);
  Error wrong{Errc::kOtpCodeInvalid, "the code is wrong"};
  wrong.attempts_left = 2;
  auto w = error_from("rid", wrong);
  EXPECT_NE(w.body.find("\"attempts_left\":2"), std::string::npos);
  EXPECT_EQ(w.body.find("retry_after"), std::string::npos);
}

// docs/errors.md lists exactly the API codes, with the table's status and message.
TEST(Errors, ErrorsDocMatchesTheTable) {
  auto rows = doc_rows(slurp("docs/errors.md"), "## Codes");
  ASSERT_FALSE(rows.empty());
  for (const auto& e : errc_table()) {
    bool api = e.surfaces & surface::kApi;
    auto it = rows.find(std::string(e.code));
    if (!api) {
      EXPECT_EQ(it, rows.end()) << e.code << " is documented as an API error but is not one";
      continue;
    }
    ASSERT_NE(it, rows.end()) << e.code << " is missing from docs/errors.md";
    EXPECT_NE(it->second.find(" " + std::to_string(e.http_status) + " |"), std::string::npos) << e.code;
    EXPECT_NE(it->second.find(std::string(e.message)), std::string::npos) << e.code;
    rows.erase(it);
  }
  for (const auto& [code, _] : rows) ADD_FAILURE() << code << " is in docs/errors.md but not in core/errc.h";
}

// docs/protocol.md's table of reply codes lists exactly the protocol codes, and each code
// with a close code of its own names it in the close-code table.
TEST(Errors, ProtocolDocMatchesTheTable) {
  std::string doc = slurp("docs/protocol.md");
  auto rows = doc_rows(doc, "## Error codes in replies");
  ASSERT_FALSE(rows.empty());
  for (const auto& e : errc_table()) {
    bool proto = e.surfaces & surface::kProtocol;
    auto it = rows.find(std::string(e.code));
    EXPECT_EQ(proto, it != rows.end()) << e.code;
    if (it != rows.end()) rows.erase(it);
    if (proto && e.ws_close != 0) {
      EXPECT_NE(doc.find("| `" + std::to_string(e.ws_close) + "` |"), std::string::npos) << e.code;
    }
  }
  for (const auto& [code, _] : rows) ADD_FAILURE() << code << " is in docs/protocol.md but not in core/errc.h";
}

}  // namespace
}  // namespace herald::api

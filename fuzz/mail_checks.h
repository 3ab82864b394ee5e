// Invariants of a built e-mail, shared by the targets that reach build_mail: the header block
// is exactly our headers (folded lines aside) and every line break is CRLF, so no input can
// add a header (Bcc:, say) or end the headers early.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fuzz_target.h"

namespace herald::fuzz {

inline void check_built_mail(std::string_view m) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') FUZZ_CHECK(i > 0 && m[i - 1] == '\r');
    if (m[i] == '\r') FUZZ_CHECK(i + 1 < m.size() && m[i + 1] == '\n');
  }
  auto end = m.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string_view::npos);
  static constexpr std::array<std::string_view, 9> kHeaders = {
      "Date: ",         "From: ",         "To: ",
      "Subject: ",      "Message-ID: ",   "Auto-Submitted: ",
      "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: "};
  std::size_t next = 0, start = 0;
  std::string_view headers = m.substr(0, end + 2);
  while (start < headers.size()) {
    auto eol = headers.find("\r\n", start);
    std::string_view line = headers.substr(start, eol - start);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      FUZZ_CHECK(next > 0);  // a continuation of the header before
    } else {
      FUZZ_CHECK(next < kHeaders.size() && line.substr(0, kHeaders[next].size()) == kHeaders[next]);
      ++next;
    }
    start = eol + 2;
  }
  FUZZ_CHECK(next == kHeaders.size());
  // Quoted-printable keeps body lines within 76 characters (RFC 2045).
  std::string_view body = m.substr(end + 4);
  std::size_t line_start = 0;
  while (line_start < body.size()) {
    auto eol = body.find("\r\n", line_start);
    if (eol == std::string_view::npos) eol = body.size();
    FUZZ_CHECK(eol - line_start <= 76);
    line_start = eol + 2;
  }
}

}  // namespace herald::fuzz

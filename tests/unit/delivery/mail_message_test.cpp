// RFC 5322 message building: headers, CRLF, encodings, and refusal of header injection.
#include "delivery/mail_message.h"

#include <gtest/gtest.h>

#include "crypto/encoding.h"

namespace herald::delivery {
namespace {

using namespace std::chrono_literals;

const Mailbox kFrom{"", "no-reply@example.com"};

std::string build(std::string_view to, std::string_view subject, std::string_view text) {
  auto r = build_mail({.from = kFrom,
                       .to = to,
                       .subject = subject,
                       .text = text,
                       .date = std::chrono::system_clock::time_point(1'700'000'000s),
                       .message_id = "abc123@example.com"});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::string();
}

std::string header_block(const std::string& m) {
  return m.substr(0, m.find("\r\n\r\n") + 2);
}

// Decodes a header made of RFC 2047 B encoded-words folded with CRLF SP.
std::string decode_words(const std::string& value) {
  static constexpr std::string_view kOpen = "=?UTF-8?B?";
  std::string out;
  std::size_t pos = 0;
  while ((pos = value.find(kOpen, pos)) != std::string::npos) {
    auto start = pos + kOpen.size();
    auto end = value.find("?=", start);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    auto d = crypto::base64_decode(value.substr(start, end - start));
    EXPECT_TRUE(d.has_value());
    EXPECT_TRUE(is_valid_utf8(d.value_or(""))) << "an encoded-word split a character";
    out += d.value_or("");
    pos = end + 2;
  }
  return out;
}

TEST(MailMessage, HasEveryHeaderAndOnlyCrlfLineEndings) {
  std::string m = build("alice@example.org", "Your code", "Your code is 123456.\nIt expires in 5 minutes.");
  std::string h = header_block(m);
  EXPECT_EQ(h.rfind("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", 0), 0u) << h;
  EXPECT_NE(h.find("\r\nFrom: no-reply@example.com\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nTo: alice@example.org\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nSubject: Your code\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nMessage-ID: <abc123@example.com>\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nMIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nContent-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nContent-Transfer-Encoding: quoted-printable\r\n"), std::string::npos);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') {
      ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
    }
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  EXPECT_NE(m.find("\r\n\r\nYour code is 123456.\r\nIt expires in 5 minutes.\r\n"), std::string::npos) << m;
}

TEST(MailMessage, EncodesNonAsciiSubjectAsEncodedWords) {
  const std::string subject = "Ihr Bestätigungscode für Herald ✓";
  std::string h = header_block(build("bob@example.org", subject, "x"));
  auto start = h.find("Subject: ") + 9;
  auto end = h.find("\r\nMessage-ID:");
  std::string value = h.substr(start, end - start);
  EXPECT_EQ(value.rfind("=?UTF-8?B?", 0), 0u) << value;
  EXPECT_EQ(decode_words(value), subject);
  for (unsigned char c : h) EXPECT_LT(c, 0x80) << "raw non-ASCII byte in the header block";
}

TEST(MailMessage, LongSubjectIsSplitIntoShortWordsOnCharacterBoundaries) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "Prüfcode €";
  std::string value = encode_header_text(subject);
  EXPECT_EQ(decode_words(value), subject);
  std::size_t pos = 0;
  while (pos < value.size()) {
    auto nl = value.find("\r\n ", pos);
    std::string word = value.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    EXPECT_LE(word.size(), 75u) << word;
    if (nl == std::string::npos) break;
    pos = nl + 3;
  }
}

TEST(MailMessage, AsciiSubjectThatLooksLikeAnEncodedWordIsEncoded) {
  EXPECT_EQ(encode_header_text("plain subject"), "plain subject");
  EXPECT_EQ(encode_header_text("=?UTF-8?B?eA==?=").rfind("=?UTF-8?B?", 0), 0u);
  EXPECT_EQ(decode_words(encode_header_text("=?UTF-8?B?eA==?=")), "=?UTF-8?B?eA==?=");
}

TEST(MailMessage, RefusesHeaderInjectionInRecipientAndSubject) {
  auto attempt = [](std::string_view to, std::string_view subject) {
    return build_mail({.from = kFrom,
                       .to = to,
                       .subject = subject,
                       .text = "code 1",
                       .date = std::chrono::system_clock::now(),
                       .message_id = "x@example.com"});
  };
  for (auto to :
       {"alice@example.org\r\nBcc: eve@evil.test", "alice@example.org\nBcc: eve@evil.test", "alice@example.org\r",
        "alice@exa\x01mple.org", "alice@example.org>, <eve@evil.test", "not an address", ""}) {
    auto r = attempt(to, "hello");
    ASSERT_FALSE(r.ok()) << to;
    EXPECT_EQ(r.error().code, Errc::kDeliveryFailed);
  }
  for (auto subject : {"hi\r\nBcc: eve@evil.test", "hi\nX-Evil: 1", "hi\rthere", "tab\there", "del\x7f"}) {
    auto r = attempt("alice@example.org", subject);
    ASSERT_FALSE(r.ok()) << subject;
    EXPECT_EQ(r.error().code, Errc::kDeliveryFailed);
  }
  auto bad_utf8 = attempt("alice@example.org", "\xff\xfe");
  EXPECT_FALSE(bad_utf8.ok());
}

TEST(MailMessage, QuotedPrintable) {
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("é"), "=C3=A9");
  EXPECT_EQ(quoted_printable("trailing \nline"), "trailing=20\r\nline");
  EXPECT_EQ(quoted_printable("tab\t"), "tab=09");
  EXPECT_EQ(quoted_printable("a\r\nb\rc\nd"), "a\r\nb\r\nc\r\nd");
  EXPECT_EQ(quoted_printable("123456"), "123456");
  std::string longline(200, 'x');
  std::string qp = quoted_printable(longline + "é");
  std::size_t pos = 0, total = 0;
  while (pos <= qp.size()) {
    auto nl = qp.find("\r\n", pos);
    std::string line = qp.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    EXPECT_LE(line.size(), 76u);
    if (nl != std::string::npos) {
      EXPECT_EQ(line.back(), '=') << "soft break expected";
    }
    total += line.size();
    if (nl == std::string::npos) break;
    pos = nl + 2;
  }
  EXPECT_GT(total, 200u);
  // Undoing the soft breaks gives the plain encoding back.
  std::string joined;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp.compare(i, 3, "=\r\n") == 0) {
      i += 2;
      continue;
    }
    joined += qp[i];
  }
  EXPECT_EQ(joined, longline + "=C3=A9");
}

TEST(MailMessage, Addresses) {
  EXPECT_TRUE(is_valid_address("alice@example.org"));
  EXPECT_TRUE(is_valid_address("a.b+tag@sub.example-x.org"));
  EXPECT_TRUE(is_valid_address("root@localhost"));
  EXPECT_FALSE(is_valid_address("alice"));
  EXPECT_FALSE(is_valid_address("@example.org"));
  EXPECT_FALSE(is_valid_address("alice@"));
  EXPECT_FALSE(is_valid_address("a..b@example.org"));
  EXPECT_FALSE(is_valid_address(".a@example.org"));
  EXPECT_FALSE(is_valid_address("a b@example.org"));
  EXPECT_FALSE(is_valid_address("a@-example.org"));
  EXPECT_FALSE(is_valid_address("a@b@example.org"));
  EXPECT_FALSE(is_valid_address("ä@example.org"));

  auto plain = parse_mailbox("no-reply@example.com");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->address, "no-reply@example.com");
  EXPECT_EQ(plain->display, "");
  auto named = parse_mailbox("Herald <no-reply@example.com>");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->address, "no-reply@example.com");
  EXPECT_EQ(named->display, "Herald");
  auto quoted = parse_mailbox("\"Herald Bot\" <no-reply@example.com>");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->display, "Herald Bot");
  EXPECT_FALSE(parse_mailbox("Herald <no-reply@example.com"));
  EXPECT_FALSE(parse_mailbox("Her\r\nald <no-reply@example.com>"));
  EXPECT_FALSE(parse_mailbox("x <not-an-address>"));
}

TEST(MailMessage, DisplayNameInFrom) {
  Mailbox from{"Herald Bestätigung", "no-reply@example.com"};
  auto r = build_mail({.from = from,
                       .to = "a@example.org",
                       .subject = "s",
                       .text = "t",
                       .date = std::chrono::system_clock::now(),
                       .message_id = "x@example.com"});
  ASSERT_TRUE(r.ok());
  auto from_line = r->substr(r->find("\r\nFrom: ") + 8);
  from_line = from_line.substr(0, from_line.find("\r\nTo:"));
  EXPECT_EQ(from_line.rfind("=?UTF-8?B?", 0), 0u) << from_line;
  EXPECT_NE(from_line.find(" <no-reply@example.com>"), std::string::npos);
  EXPECT_EQ(decode_words(from_line), "Herald Bestätigung");

  Mailbox ascii{"Herald", "no-reply@example.com"};
  auto r2 = build_mail({.from = ascii,
                        .to = "a@example.org",
                        .subject = "s",
                        .text = "t",
                        .date = std::chrono::system_clock::now(),
                        .message_id = "x@example.com"});
  ASSERT_TRUE(r2.ok());
  EXPECT_NE(r2->find("\r\nFrom: \"Herald\" <no-reply@example.com>\r\n"), std::string::npos);
}

TEST(MailMessage, DateFormat) {
  EXPECT_EQ(rfc5322_date(std::chrono::system_clock::time_point(0s)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(std::chrono::system_clock::time_point(1'709'210'096s)), "Thu, 29 Feb 2024 12:34:56 +0000");
}

}  // namespace
}  // namespace herald::delivery

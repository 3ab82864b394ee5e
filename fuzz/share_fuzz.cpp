// Fuzzes the printable form of Shamir key shares that operators paste in to unseal: any text
// gives a share or "share_invalid"; a parsed share prints as text that parses back to it, and
// shares parsed from the input (one per line) combine without fault when they fit together.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>
#include <vector>

#include "fuzz_target.h"
#include "kms/shamir.h"

HERALD_FUZZ_TARGET(share) {
  using namespace herald;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<kms::Share> shares;
  std::set<std::uint8_t> numbers;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto s = kms::parse_share(line);
    if (!s) {
      FUZZ_CHECK(s.error().code == Errc::kShareInvalid);
      continue;
    }
    FUZZ_CHECK(s->x >= 1 && s->bytes.size() >= 1 && s->bytes.size() <= 1024);
    auto printed = kms::format_share(*s);
    auto again = kms::parse_share(printed.view());
    FUZZ_CHECK(again && again->x == s->x && again->bytes.view() == s->bytes.view());
    if (numbers.insert(s->x).second && (shares.empty() || shares[0].bytes.size() == s->bytes.size()))
      shares.push_back(std::move(*s));
  }
  if (shares.size() >= 2) {
    auto secret = kms::combine_shares(shares);
    FUZZ_CHECK(secret.size() == shares[0].bytes.size());
    // Splitting that secret again and combining any two of the new shares gives it back.
    auto split = kms::split_secret(secret, 3, 2);
    FUZZ_CHECK(kms::combine_shares({split[0], split[2]}).view() == secret.view());
  }
  return 0;
}

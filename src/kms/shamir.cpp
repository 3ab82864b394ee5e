// libgfshare does the field arithmetic; its default coefficient source is random(),
// so it is pointed at OpenSSL's CSPRNG before any split.
#include "kms/shamir.h"

extern "C" {  // the header has no C++ guard
#include <libgfshare.h>
}
#include <openssl/crypto.h>

#include <charconv>
#include <stdexcept>

#include "crypto/encoding.h"
#include "crypto/random.h"

namespace herald::kms {
namespace {

void csprng_fill(unsigned char* buf, unsigned int n) {
  crypto::random_bytes(buf, n);
}

// libgfshare draws coefficients, and scrubs freed contexts, through this pointer, which
// this version leaves null: set it before any context exists.
void use_csprng() {
  static const bool done = [] {
    gfshare_fill_rand = csprng_fill;
    return true;
  }();
  (void)done;
}

struct Ctx {
  gfshare_ctx* p;
  ~Ctx() {
    if (p) gfshare_ctx_free(p);
  }
};

}  // namespace

std::vector<Share> split_secret(const crypto::SecretBytes& secret, unsigned n, unsigned k) {
  if (k < 1 || k > n || n > 255 || secret.empty()) throw std::invalid_argument("split_secret: bad n, k or secret");
  use_csprng();
  std::vector<unsigned char> xs(n);
  for (unsigned i = 0; i < n; ++i) xs[i] = static_cast<unsigned char>(i + 1);
  Ctx ctx{gfshare_ctx_init_enc(xs.data(), n, static_cast<unsigned char>(k), static_cast<unsigned int>(secret.size()))};
  if (!ctx.p) throw std::runtime_error("libgfshare could not set up the split");
  crypto::SecretBytes copy = secret;  // libgfshare takes a non-const pointer
  gfshare_ctx_enc_setsecret(ctx.p, copy.data());
  std::vector<Share> out;
  for (unsigned i = 0; i < n; ++i) {
    Share s;
    s.x = xs[i];
    s.bytes = crypto::SecretBytes(secret.size());
    gfshare_ctx_enc_getshare(ctx.p, static_cast<unsigned char>(i), s.bytes.data());
    out.push_back(std::move(s));
  }
  return out;
}

crypto::SecretBytes combine_shares(const std::vector<Share>& shares) {
  if (shares.empty()) throw std::invalid_argument("combine_shares: no shares");
  use_csprng();
  const std::size_t size = shares.front().bytes.size();
  std::vector<unsigned char> xs;
  for (const auto& s : shares) {
    if (s.bytes.size() != size) throw std::invalid_argument("combine_shares: shares of different sizes");
    xs.push_back(s.x);
  }
  Ctx ctx{gfshare_ctx_init_dec(xs.data(), static_cast<unsigned int>(xs.size()), static_cast<unsigned int>(size))};
  if (!ctx.p) throw std::runtime_error("libgfshare could not set up the combination");
  for (std::size_t i = 0; i < shares.size(); ++i) {
    crypto::SecretBytes copy = shares[i].bytes;
    gfshare_ctx_dec_giveshare(ctx.p, static_cast<unsigned char>(i), copy.data());
  }
  crypto::SecretBytes out(size);
  gfshare_ctx_dec_extract(ctx.p, out.data());
  return out;
}

crypto::SecretBytes format_share(const Share& s) {
  std::string text = std::to_string(s.x) + "-" + crypto::hex_encode(s.bytes.view());
  crypto::SecretBytes out(text);
  OPENSSL_cleanse(text.data(), text.size());
  return out;
}

Result<Share> parse_share(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 3)
    return make_error(Errc::kShareInvalid, "a share looks like <number>-<hex digits>");
  unsigned x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + dash, x);
  if (ec != std::errc{} || end != text.data() + dash || x < 1 || x > 255)
    return make_error(Errc::kShareInvalid, "a share's number is 1 to 255");
  auto bytes = crypto::hex_decode(text.substr(dash + 1));
  if (!bytes || bytes->empty() || bytes->size() > 1024)
    return make_error(Errc::kShareInvalid, "a share's bytes are hex digits");
  Share s;
  s.x = static_cast<std::uint8_t>(x);
  s.bytes = crypto::SecretBytes(*bytes);
  OPENSSL_cleanse(bytes->data(), bytes->size());
  return s;
}

}  // namespace herald::kms

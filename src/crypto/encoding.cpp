// Strict base64, base64url and hex codecs. Decoders accept exactly the canonical form
// their encoder emits (for hex: either case), so an attacker cannot produce a second
// spelling of the same bytes (signature and token malleability).
#include "crypto/encoding.h"

#include <array>
#include <cstdint>

namespace herald::crypto {
namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::int8_t kInvalid = -1;

using DecodeTable = std::array<std::int8_t, 256>;

constexpr DecodeTable make_decode_table(const char* alphabet) {
  DecodeTable t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}

constexpr DecodeTable kBase64Decode = make_decode_table(kBase64Alphabet);
constexpr DecodeTable kBase64UrlDecode = make_decode_table(kBase64UrlAlphabet);

// Both codecs write into a buffer sized up front: they sit on hot paths (key service
// ciphertexts, tokens), where appending a character at a time cost more than AES.
std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  const std::size_t full = bytes.size() / 3, rest = bytes.size() % 3;
  const std::size_t out_len = full * 4 + (rest == 0 ? 0 : pad ? 4 : rest + 1);
  std::string out(out_len, '\0');
  char* o = out.data();
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  for (std::size_t g = 0; g < full; ++g, in += 3, o += 4) {
    std::uint32_t n = std::uint32_t{in[0]} << 16 | std::uint32_t{in[1]} << 8 | in[2];
    o[0] = alphabet[n >> 18 & 63];
    o[1] = alphabet[n >> 12 & 63];
    o[2] = alphabet[n >> 6 & 63];
    o[3] = alphabet[n & 63];
  }
  if (rest == 1) {
    std::uint32_t n = std::uint32_t{in[0]} << 16;
    o[0] = alphabet[n >> 18 & 63];
    o[1] = alphabet[n >> 12 & 63];
    if (pad) o[2] = o[3] = '=';
  } else if (rest == 2) {
    std::uint32_t n = std::uint32_t{in[0]} << 16 | std::uint32_t{in[1]} << 8;
    o[0] = alphabet[n >> 18 & 63];
    o[1] = alphabet[n >> 12 & 63];
    o[2] = alphabet[n >> 6 & 63];
    if (pad) o[3] = '=';
  }
  return out;
}

// Decodes unpadded symbols; `text` holds no '='. A final group of 2 or 3 symbols
// carries 1 or 2 bytes, and the bits it has beyond those must be zero.
std::optional<std::string> decode_unpadded(std::string_view text, const DecodeTable& table) {
  const std::size_t full = text.size() / 4, rest = text.size() % 4;
  if (rest == 1) return std::nullopt;
  std::string out(full * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t g = 0; g < full; ++g, in += 4, o += 3) {
    std::int8_t a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
    if ((a | b | c | d) < 0) return std::nullopt;  // kInvalid is the only negative entry
    std::uint32_t n = static_cast<std::uint32_t>(a) << 18 | static_cast<std::uint32_t>(b) << 12 |
                      static_cast<std::uint32_t>(c) << 6 | static_cast<std::uint32_t>(d);
    o[0] = static_cast<unsigned char>(n >> 16);
    o[1] = static_cast<unsigned char>(n >> 8);
    o[2] = static_cast<unsigned char>(n);
  }
  if (rest >= 2) {
    std::int8_t a = table[in[0]], b = table[in[1]], c = rest == 3 ? table[in[2]] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    std::uint32_t n = static_cast<std::uint32_t>(a) << 18 | static_cast<std::uint32_t>(b) << 12 |
                      static_cast<std::uint32_t>(c) << 6;
    o[0] = static_cast<unsigned char>(n >> 16);
    // Leftover bits are padding inside the last symbol: non-zero means a non-canonical
    // spelling of the same bytes.
    if (rest == 2 && (n & 0xffff) != 0) return std::nullopt;
    if (rest == 3) {
      o[1] = static_cast<unsigned char>(n >> 8);
      if ((n & 0xff) != 0) return std::nullopt;
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, kBase64UrlAlphabet, false);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // '=' is outside the url alphabet's table, so padded input is refused there.
  return decode_unpadded(text, kBase64UrlDecode);
}

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, kBase64Alphabet, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = 1;
  if (text.size() >= 2 && text[text.size() - 2] == '=') {
    if (padding == 0) return std::nullopt;  // "xx=x": '=' only at the end
    padding = 2;
  }
  // Any other '=' is rejected by the table inside decode_unpadded.
  return decode_unpadded(text.substr(0, text.size() - padding), kBase64Decode);
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace herald::crypto

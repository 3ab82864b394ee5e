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

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    out += alphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t n = byte(i) << 16;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    if (pad) out += '=';
  }
  return out;
}

// Decodes unpadded symbols; `text` holds no '='. A final group of 2 or 3 symbols
// carries 1 or 2 bytes, and the bits it has beyond those must be zero.
std::optional<std::string> decode_unpadded(std::string_view text, const DecodeTable& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    std::int8_t v = table[static_cast<unsigned char>(c)];
    if (v == kInvalid) return std::nullopt;
    acc = (acc << 6 | static_cast<std::uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  // Leftover bits (2 or 4) are padding inside the last symbol: non-zero means a
  // non-canonical spelling.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
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

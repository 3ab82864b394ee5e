// RFC 6962's recursive definitions, with subtree hashes read from perfect subtrees; the
// verifiers follow RFC 9162's iterative algorithms, which need no tree at all.
#include "audit/merkle.h"

#include <openssl/evp.h>

#include <bit>
#include <cstring>

namespace herald::audit {
namespace {

Hash sha256_parts(std::initializer_list<std::string_view> parts) {
  Hash out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (auto p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, out.data(), &n);
  EVP_MD_CTX_free(ctx);
  return out;
}

std::string_view view(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

bool is_pow2(std::uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

bool path(const NodeReader& nodes, std::uint64_t m, std::uint64_t lo, std::uint64_t hi, std::vector<Hash>& out) {
  std::uint64_t n = hi - lo;
  if (n <= 1) return true;
  std::uint64_t k = split_point(n);
  if (m < k) {
    if (!path(nodes, m, lo, lo + k, out)) return false;
    auto h = range_hash(nodes, lo + k, hi);
    if (!h) return false;
    out.push_back(*h);
  } else {
    if (!path(nodes, m - k, lo + k, hi, out)) return false;
    auto h = range_hash(nodes, lo, lo + k);
    if (!h) return false;
    out.push_back(*h);
  }
  return true;
}

bool subproof(const NodeReader& nodes, std::uint64_t m, std::uint64_t lo, std::uint64_t hi, bool complete,
              std::vector<Hash>& out) {
  std::uint64_t n = hi - lo;
  if (m == n) {
    if (complete) return true;
    auto h = range_hash(nodes, lo, hi);
    if (!h) return false;
    out.push_back(*h);
    return true;
  }
  std::uint64_t k = split_point(n);
  if (m <= k) {
    if (!subproof(nodes, m, lo, lo + k, complete, out)) return false;
    auto h = range_hash(nodes, lo + k, hi);
    if (!h) return false;
    out.push_back(*h);
  } else {
    if (!subproof(nodes, m - k, lo + k, hi, false, out)) return false;
    auto h = range_hash(nodes, lo, lo + k);
    if (!h) return false;
    out.push_back(*h);
  }
  return true;
}

}  // namespace

Hash leaf_hash(std::string_view data) { return sha256_parts({std::string_view("\x00", 1), data}); }

Hash node_hash(const Hash& left, const Hash& right) {
  return sha256_parts({std::string_view("\x01", 1), view(left), view(right)});
}

Hash empty_root() { return sha256_parts({}); }

std::string to_hex(const Hash& h) {
  static const char* k = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : h) {
    out.push_back(k[c >> 4]);
    out.push_back(k[c & 15]);
  }
  return out;
}

std::optional<Hash> hash_from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Hash h{};
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    int a = val(hex[2 * i]), b = val(hex[2 * i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    h[i] = static_cast<unsigned char>(a * 16 + b);
  }
  return h;
}

std::uint64_t split_point(std::uint64_t n) {
  // The largest power of two strictly below n.
  return std::uint64_t{1} << (63 - std::countl_zero(n - 1));
}

std::optional<Hash> range_hash(const NodeReader& nodes, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t n = hi - lo;
  if (n == 0) return empty_root();
  if (is_pow2(n) && lo % n == 0) return nodes(static_cast<unsigned>(std::countr_zero(n)), lo / n);
  std::uint64_t k = split_point(n);
  auto l = range_hash(nodes, lo, lo + k);
  auto r = range_hash(nodes, lo + k, hi);
  if (!l || !r) return std::nullopt;
  return node_hash(*l, *r);
}

std::optional<Hash> tree_head(const NodeReader& nodes, std::uint64_t size) { return range_hash(nodes, 0, size); }

std::optional<std::vector<Hash>> inclusion_proof(const NodeReader& nodes, std::uint64_t index, std::uint64_t size) {
  if (index >= size) return std::nullopt;
  std::vector<Hash> out;
  if (!path(nodes, index, 0, size, out)) return std::nullopt;
  return out;
}

std::optional<std::vector<Hash>> consistency_proof(const NodeReader& nodes, std::uint64_t first,
                                                   std::uint64_t second) {
  if (first > second) return std::nullopt;
  std::vector<Hash> out;
  if (first == 0 || first == second) return out;
  if (!subproof(nodes, first, 0, second, true, out)) return std::nullopt;
  return out;
}

bool verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size, const std::vector<Hash>& proof,
                      const Hash& root) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root, const Hash& second_root,
                        const std::vector<Hash>& proof) {
  if (first > second) return false;
  if (first == second) return proof.empty() && first_root == second_root;
  if (first == 0) return proof.empty() && first_root == empty_root();
  if (proof.empty()) return false;
  std::vector<Hash> p = proof;
  if (is_pow2(first)) p.insert(p.begin(), first_root);
  std::uint64_t fn = first - 1, sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = p[0], sr = p[0];
  for (std::size_t i = 1; i < p.size(); ++i) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(p[i], fr);
      sr = node_hash(p[i], sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_hash(sr, p[i]);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == first_root && sr == second_root;
}

NodeReader memory_nodes(const std::vector<Hash>& leaves) {
  return [&leaves](unsigned level, std::uint64_t index) -> std::optional<Hash> {
    std::uint64_t width = std::uint64_t{1} << level, lo = index * width;
    if (lo + width > leaves.size()) return std::nullopt;
    if (level == 0) return leaves[lo];
    // Built from the two halves: fine for tests and the verifier's small trees.
    auto nodes = memory_nodes(leaves);
    auto l = nodes(level - 1, index * 2), r = nodes(level - 1, index * 2 + 1);
    if (!l || !r) return std::nullopt;
    return node_hash(*l, *r);
  };
}

std::vector<Frontier::Node> Frontier::append(const Hash& leaf) {
  std::vector<Node> completed;
  stack_.push_back(Node{0, size_, leaf});
  ++size_;
  while (stack_.size() >= 2 && stack_[stack_.size() - 2].level == stack_.back().level) {
    Node right = stack_.back();
    stack_.pop_back();
    Node left = stack_.back();
    stack_.pop_back();
    Node merged{left.level + 1, left.index / 2, node_hash(left.hash, right.hash)};
    completed.push_back(merged);
    stack_.push_back(merged);
  }
  return completed;
}

Hash Frontier::root() const {
  if (stack_.empty()) return empty_root();
  Hash r = stack_.back().hash;
  for (std::size_t i = stack_.size() - 1; i-- > 0;) r = node_hash(stack_[i].hash, r);
  return r;
}

std::optional<Frontier> Frontier::load(const NodeReader& nodes, std::uint64_t size) {
  Frontier f;
  std::uint64_t offset = 0;
  for (int b = 63; b >= 0; --b) {
    std::uint64_t width = std::uint64_t{1} << b;
    if (!(size & width)) continue;
    auto h = nodes(static_cast<unsigned>(b), offset >> b);
    if (!h) return std::nullopt;
    f.stack_.push_back(Node{static_cast<unsigned>(b), offset >> b, *h});
    offset += width;
  }
  f.size_ = size;
  return f;
}

}  // namespace herald::audit

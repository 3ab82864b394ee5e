// RFC 6962 / RFC 9162 Merkle trees: leaf and node hashing, tree heads, inclusion and
// consistency proofs and their verification. Proof generation reads subtree hashes
// through a NodeReader, so that a log keeps perfect subtrees on disk and answers a
// proof with O(log n) reads; an incremental frontier appends in O(log n) too.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::audit {

using Hash = std::array<unsigned char, 32>;

Hash leaf_hash(std::string_view data);           // SHA-256(0x00 || data)
Hash node_hash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash empty_root();                                // SHA-256("")
std::string to_hex(const Hash& h);
std::optional<Hash> hash_from_hex(std::string_view hex);

// The largest power of two smaller than n (n >= 2): RFC 6962's split point.
std::uint64_t split_point(std::uint64_t n);

// Hashes of complete subtrees: level L, index i covers leaves [i * 2^L, (i + 1) * 2^L).
// Level 0 are the leaf hashes. nullopt when the node is not available.
using NodeReader = std::function<std::optional<Hash>(unsigned level, std::uint64_t index)>;

// The Merkle Tree Hash of leaves [lo, hi), from perfect subtrees.
std::optional<Hash> range_hash(const NodeReader& nodes, std::uint64_t lo, std::uint64_t hi);
std::optional<Hash> tree_head(const NodeReader& nodes, std::uint64_t size);
// RFC 6962 §2.1.1 audit path of leaf `index` in the tree of `size` leaves.
std::optional<std::vector<Hash>> inclusion_proof(const NodeReader& nodes, std::uint64_t index, std::uint64_t size);
// RFC 6962 §2.1.2 consistency proof between sizes `first` <= `second`.
std::optional<std::vector<Hash>> consistency_proof(const NodeReader& nodes, std::uint64_t first, std::uint64_t second);

// RFC 9162 §2.1.3.2 and §2.1.4.2.
bool verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size, const std::vector<Hash>& proof,
                      const Hash& root);
bool verify_consistency(std::uint64_t first, std::uint64_t second, const Hash& first_root, const Hash& second_root,
                        const std::vector<Hash>& proof);

// A NodeReader over leaf hashes held in memory (tests, the verifier).
NodeReader memory_nodes(const std::vector<Hash>& leaves);

// The right edge of a growing tree: the roots of its perfect subtrees, largest first.
// append() returns the perfect subtrees it completed (to keep for proofs).
class Frontier {
 public:
  struct Node {
    unsigned level;
    std::uint64_t index;
    Hash hash;
  };
  std::vector<Node> append(const Hash& leaf);
  std::uint64_t size() const { return size_; }
  Hash root() const;
  // Rebuilds the frontier of a tree of `size` leaves from its stored nodes.
  static std::optional<Frontier> load(const NodeReader& nodes, std::uint64_t size);

 private:
  std::vector<Node> stack_;  // levels strictly decreasing
  std::uint64_t size_ = 0;
};

}  // namespace herald::audit

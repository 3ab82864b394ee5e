#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <map>

namespace herald::audit {
namespace {

// The Certificate Transparency reference leaves and tree heads (RFC 6962), published
// with the C++ and Go CT implementations and transparency-dev/merkle's test data.
std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

const char* kLeaves[] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f"};
const char* kRoots[] = {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

std::vector<Hash> reference_leaves() {
  std::vector<Hash> v;
  for (const char* l : kLeaves) v.push_back(leaf_hash(unhex(l)));
  return v;
}

std::vector<std::string> hexes(const std::vector<Hash>& v) {
  std::vector<std::string> out;
  for (const auto& h : v) out.push_back(to_hex(h));
  return out;
}

TEST(Merkle, TreeHeadsMatchTheReferenceForEverySize) {
  auto leaves = reference_leaves();
  auto nodes = memory_nodes(leaves);
  Frontier f;
  EXPECT_EQ(to_hex(f.root()), kRoots[0]);
  for (std::uint64_t n = 0; n <= 8; ++n) {
    EXPECT_EQ(to_hex(*tree_head(nodes, n)), kRoots[n]) << n;
    if (n < 8) {
      f.append(leaves[n]);
      EXPECT_EQ(to_hex(f.root()), kRoots[n + 1]) << n + 1;
    }
  }
  EXPECT_EQ(split_point(2), 1u);
  EXPECT_EQ(split_point(5), 4u);
  EXPECT_EQ(split_point(8), 4u);
  EXPECT_EQ(split_point(9), 8u);
  EXPECT_EQ(split_point(1000), 512u);
}

TEST(Merkle, ReferenceInclusionAndConsistencyProofs) {
  auto leaves = reference_leaves();
  auto nodes = memory_nodes(leaves);
  EXPECT_EQ(hexes(*inclusion_proof(nodes, 0, 8)),
            (std::vector<std::string>{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}));
  EXPECT_EQ(hexes(*inclusion_proof(nodes, 5, 8)),
            (std::vector<std::string>{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}));
  EXPECT_EQ(hexes(*consistency_proof(nodes, 1, 8)), hexes(*inclusion_proof(nodes, 0, 8)));
  EXPECT_EQ(hexes(*consistency_proof(nodes, 2, 8)),
            (std::vector<std::string>{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}));
  EXPECT_EQ(hexes(*consistency_proof(nodes, 6, 8)),
            (std::vector<std::string>{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}));
  EXPECT_EQ(hexes(*consistency_proof(nodes, 2, 5)),
            (std::vector<std::string>{"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}));
  EXPECT_TRUE(consistency_proof(nodes, 8, 8)->empty());
  EXPECT_FALSE(inclusion_proof(nodes, 8, 8).has_value());
  EXPECT_FALSE(consistency_proof(nodes, 5, 3).has_value());
}

TEST(Merkle, EveryProofVerifiesAndEveryMangledOneFails) {
  std::vector<Hash> leaves;
  for (int i = 0; i < 37; ++i) leaves.push_back(leaf_hash(std::string(1, static_cast<char>(i)) + "x"));
  auto nodes = memory_nodes(leaves);
  for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
    Hash root = *tree_head(nodes, n);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto p = *inclusion_proof(nodes, i, n);
      ASSERT_TRUE(verify_inclusion(leaves[i], i, n, p, root)) << i << "/" << n;
      if (n > 1) {
        EXPECT_FALSE(verify_inclusion(leaves[i], (i + 1) % n, n, p, root));
        EXPECT_FALSE(verify_inclusion(leaves[(i + 1) % n], i, n, p, root));
      }
      if (!p.empty()) {
        auto bad = p;
        bad.back()[3] ^= 1;
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, bad, root));
        bad = p;
        bad.pop_back();
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, bad, root));
        bad = p;
        bad.push_back(root);
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, bad, root));
      }
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      Hash mroot = *tree_head(nodes, m);
      auto c = *consistency_proof(nodes, m, n);
      ASSERT_TRUE(verify_consistency(m, n, mroot, root, c)) << m << "->" << n;
      if (m > 0 && m < n) {
        auto bad = c;
        bad.front()[0] ^= 0x80;
        EXPECT_FALSE(verify_consistency(m, n, mroot, root, bad));
        bad = c;
        bad.pop_back();
        EXPECT_FALSE(verify_consistency(m, n, mroot, root, bad));
        Hash other = mroot;
        other[5] ^= 1;
        EXPECT_FALSE(verify_consistency(m, n, other, root, c));  // a rewritten past
      }
    }
  }
  EXPECT_FALSE(verify_consistency(4, 4, *tree_head(nodes, 4), *tree_head(nodes, 5), {}));
  EXPECT_TRUE(verify_consistency(0, 8, empty_root(), *tree_head(nodes, 8), {}));
}

TEST(Merkle, TheFrontierReportsCompletedSubtreesAndReloadsFromThem) {
  std::vector<Hash> leaves;
  std::map<std::pair<unsigned, std::uint64_t>, Hash> stored;
  Frontier f;
  for (int i = 0; i < 23; ++i) {
    leaves.push_back(leaf_hash("leaf " + std::to_string(i)));
    stored[{0u, static_cast<std::uint64_t>(i)}] = leaves.back();
    for (const auto& n : f.append(leaves.back())) stored[{n.level, n.index}] = n.hash;
  }
  NodeReader from_store = [&](unsigned level, std::uint64_t index) -> std::optional<Hash> {
    auto it = stored.find({level, index});
    if (it == stored.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(stored.count({4u, 0u}), 1u);  // leaves 0..15
  EXPECT_EQ(stored.count({3u, 2u}), 0u);  // 16..23 is not complete
  auto reloaded = Frontier::load(from_store, 23);
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_EQ(reloaded->root(), f.root());
  EXPECT_EQ(*tree_head(from_store, 23), f.root());
  EXPECT_EQ(*tree_head(from_store, 23), *tree_head(memory_nodes(leaves), 23));
  EXPECT_EQ(hexes(*inclusion_proof(from_store, 17, 23)), hexes(*inclusion_proof(memory_nodes(leaves), 17, 23)));
}

}  // namespace
}  // namespace herald::audit

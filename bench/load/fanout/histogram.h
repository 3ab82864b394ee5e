// A log-bucketed latency histogram in the manner of HdrHistogram: 64 linear
// sub-buckets per power of two (relative error under 1.6%), a fixed array, no
// allocation on record. One per generator thread, merged at the end.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace fanout {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;                     // 128 exact values below 128
  static constexpr std::uint64_t kSub = 1u << kSubBits;  // 128
  static constexpr std::uint64_t kHalf = kSub / 2;       // 64 sub-buckets per octave above
  static constexpr std::size_t kBuckets = kSub + (64 - kSubBits) * kHalf;

  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    if (v > max_) max_ = v;
  }

  void merge(const LatencyHistogram& o) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  // The smallest recorded-value bound at or below which a fraction q of the values
  // lie, reported as the highest value of its bucket (never better than the truth).
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    if (rank < 1) rank = 1;
    if (rank > total_) rank = total_;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        std::uint64_t hi = highest_in(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }

  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    int msb = 63 - std::countl_zero(v);  // >= kSubBits
    int shift = msb - (kSubBits - 1);    // v >> shift is in [kHalf, kSub)
    return static_cast<std::size_t>(kSub + static_cast<std::uint64_t>(msb - kSubBits) * kHalf + (v >> shift) - kHalf);
  }

  static std::uint64_t highest_in(std::size_t i) {
    if (i < kSub) return i;
    std::uint64_t k = i - kSub;
    int msb = static_cast<int>(k / kHalf) + kSubBits;
    int shift = msb - (kSubBits - 1);
    std::uint64_t top = k % kHalf + kHalf;
    return ((top + 1) << shift) - 1;
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace fanout

#include "zcnet/observe/histogram.hpp"

#include <bit>
#include <cmath>
#include <utility>

namespace zcnet {

namespace {
constexpr std::uint64_t kSub = std::uint64_t{1} << Histogram::kSubBits;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t r = a + b;
  return r < a ? UINT64_MAX : r;
}
}  // namespace

Histogram::Histogram() : buckets_(new Cell[kBuckets]) {
  // Zeroed explicitly: a default-constructed std::atomic holds zero only under C++20's P0883.
  for (std::size_t i = 0; i < kBuckets; ++i) store(buckets_[i], 0);
}

Histogram::Histogram(Histogram&& other) noexcept {
  *this = std::move(other);
}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  buckets_ = std::move(other.buckets_);
  store(count_, load(other.count_));
  store(sum_, load(other.sum_));
  store(min_, load(other.min_));
  store(max_, load(other.max_));
  return *this;
}

std::size_t Histogram::bucket_of(std::uint64_t value) noexcept {
  if (value < kSub) return static_cast<std::size_t>(value);
  const unsigned top = 63u - static_cast<unsigned>(std::countl_zero(value));  // >= kSubBits
  const unsigned shift = top - kSubBits;
  const std::uint64_t mantissa = (value >> shift) & (kSub - 1);
  return static_cast<std::size_t>(kSub + shift * kSub + mantissa);
}

std::uint64_t Histogram::bucket_lower(std::size_t index) noexcept {
  if (index < kSub) return index;
  const std::uint64_t k = index - kSub;
  const unsigned shift = static_cast<unsigned>(k / kSub);
  return (kSub + k % kSub) << shift;
}

std::uint64_t Histogram::bucket_upper(std::size_t index) noexcept {
  if (index < kSub) return index;
  const unsigned shift = static_cast<unsigned>((index - kSub) / kSub);
  return bucket_lower(index) + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::record_n(std::uint64_t value, std::uint64_t times) noexcept {
  if (times == 0) return;
  Cell& b = buckets_[bucket_of(value)];
  store(b, load(b) + times);
  store(count_, load(count_) + times);
  const std::uint64_t add = times == 1                   ? value
                            : value > UINT64_MAX / times ? UINT64_MAX
                                                         : value * times;
  store(sum_, saturating_add(load(sum_), add));
  if (value < load(min_)) store(min_, value);
  if (value > load(max_)) store(max_, value);
}

void Histogram::merge(const Histogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const std::uint64_t n = load(other.buckets_[i]);
    if (n != 0) store(buckets_[i], load(buckets_[i]) + n);
  }
  store(count_, load(count_) + other.count());
  store(sum_, saturating_add(load(sum_), other.sum()));
  if (other.count() != 0) {
    if (load(other.min_) < load(min_)) store(min_, load(other.min_));
    if (other.max() > load(max_)) store(max_, other.max());
  }
}

void Histogram::reset() noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) store(buckets_[i], 0);
  store(count_, 0);
  store(sum_, 0);
  store(min_, UINT64_MAX);
  store(max_, 0);
}

std::uint64_t Histogram::min() const noexcept {
  return count() == 0 ? 0 : load(min_);
}

double Histogram::mean() const noexcept {
  const std::uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum()) / static_cast<double>(n);
}

std::uint64_t Histogram::percentile(double p) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  if (!(p > 0.0)) return min();
  if (p >= 100.0) return max();
  auto target = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  if (target == 0) target = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += load(buckets_[i]);
    if (seen >= target) {
      const std::uint64_t edge = bucket_upper(i);
      const std::uint64_t lo = min(), hi = max();
      return edge < lo ? lo : edge > hi ? hi : edge;
    }
  }
  return max();  // a concurrent reader can see count ahead of the buckets
}

std::uint64_t Histogram::count_at_or_below(std::uint64_t value) const noexcept {
  const std::size_t last = bucket_of(value);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= last; ++i) total += load(buckets_[i]);
  return total;
}

}  // namespace zcnet

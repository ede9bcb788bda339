// zcnet::Histogram: a fixed-size log-linear histogram of unsigned values (latencies in ns, sizes in
// bytes), HDR-style: values below 64 are exact, larger ones fall in buckets 1/64 of their power of
// two wide, so any reported value is within 1.6% of a recorded one.
//
// Invariant: one thread records (record, merge, reset); any thread may read at any time. Every
// field is an atomic used with relaxed loads and stores only, so recording costs no lock and no
// read-modify-write instruction, and a reader sees each field torn-free but possibly a few
// records behind the others (a scrape, not a snapshot).
//
//   Histogram h;                    // allocates its buckets once, here
//   h.record(latency_ns);           // no allocation, no lock
//   h.percentile(99.9);             // the upper edge of the bucket holding the 99.9th value
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace zcnet {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr std::size_t kBuckets = (65 - kSubBits) << kSubBits;

  Histogram();
  // A moved-from Histogram may only be destroyed or assigned to.
  Histogram(Histogram&& other) noexcept;
  Histogram& operator=(Histogram&& other) noexcept;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void record(std::uint64_t value) noexcept { record_n(value, 1); }
  void record_n(std::uint64_t value, std::uint64_t times) noexcept;
  // Adds every value recorded in `other` (which may be recorded into by its own thread meanwhile).
  void merge(const Histogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return load(count_); }
  std::uint64_t sum() const noexcept { return load(sum_); }  // saturates at UINT64_MAX
  std::uint64_t min() const noexcept;                        // 0 when empty
  std::uint64_t max() const noexcept { return load(max_); }  // 0 when empty
  double mean() const noexcept;
  // The smallest bucket edge at or below which at least p percent (0..100) of the values lie,
  // clamped to [min(), max()]; 0 when empty. percentile(100) == max() exactly.
  std::uint64_t percentile(double p) const noexcept;
  // Values recorded in buckets that start at or below `value`: every value <= `value` plus at most
  // the rest of the bucket holding `value` (for Prometheus `le` buckets).
  std::uint64_t count_at_or_below(std::uint64_t value) const noexcept;

  // Bucket geometry, exposed for tests and exposition.
  static std::size_t bucket_of(std::uint64_t value) noexcept;
  static std::uint64_t bucket_lower(std::size_t index) noexcept;
  static std::uint64_t bucket_upper(std::size_t index) noexcept;  // inclusive

 private:
  using Cell = std::atomic<std::uint64_t>;
  static std::uint64_t load(const Cell& c) noexcept { return c.load(std::memory_order_relaxed); }
  static void store(Cell& c, std::uint64_t v) noexcept { c.store(v, std::memory_order_relaxed); }

  std::unique_ptr<Cell[]> buckets_;
  Cell count_{0};
  Cell sum_{0};
  Cell min_{UINT64_MAX};
  Cell max_{0};
};

}  // namespace zcnet

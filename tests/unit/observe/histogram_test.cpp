#include "zcnet/observe/histogram.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <thread>
#include <vector>

namespace zcnet {
namespace {

TEST(Histogram, Buckets_TileEveryValueWithoutGapsOrOverlap) {
  EXPECT_EQ(Histogram::bucket_lower(0), 0u);
  for (std::size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::bucket_upper(i) + 1, Histogram::bucket_lower(i + 1)) << i;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_lower(i)), i);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_upper(i)), i);
  }
  EXPECT_EQ(Histogram::bucket_upper(Histogram::kBuckets - 1), UINT64_MAX);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, Buckets_AreWithinOneSixtyFourthOfTheirValue) {
  for (std::uint64_t v : std::initializer_list<std::uint64_t>{
           64, 100, 1000, 123456789, std::uint64_t{1} << 40, UINT64_MAX / 3}) {
    const std::size_t b = Histogram::bucket_of(v);
    const std::uint64_t width = Histogram::bucket_upper(b) - Histogram::bucket_lower(b) + 1;
    EXPECT_LE(width * 64, Histogram::bucket_lower(b)) << v;
  }
}

TEST(Histogram, Empty_ReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.count_at_or_below(UINT64_MAX), 0u);
}

TEST(Histogram, SmallValues_AreExact) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 50; ++v) h.record(v);
  EXPECT_EQ(h.count(), 50u);
  EXPECT_EQ(h.sum(), 50u * 51u / 2u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 50u);
  EXPECT_EQ(h.percentile(50), 25u);
  EXPECT_EQ(h.percentile(100), 50u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.count_at_or_below(10), 10u);
}

TEST(Histogram, Percentiles_OfAUniformRange_AreWithinBucketError) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms in ns
  struct Case {
    double p;
    double exact;
  };
  for (Case c : {Case{50, 50'000'000}, Case{99, 99'000'000}, Case{99.9, 99'900'000}}) {
    const double got = static_cast<double>(h.percentile(c.p));
    EXPECT_GE(got, c.exact) << c.p;
    EXPECT_LE(got, c.exact * (1.0 + 1.0 / 64)) << c.p;
  }
  EXPECT_EQ(h.percentile(100), 100'000'000u);
  EXPECT_NEAR(h.mean(), 50'000'500.0, 1.0);
}

TEST(Histogram, RecordN_CountsEachTime) {
  Histogram h;
  h.record_n(7, 5);
  h.record_n(9, 0);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum(), 35u);
  EXPECT_EQ(h.max(), 7u);
}

TEST(Histogram, Sum_SaturatesInsteadOfWrapping) {
  Histogram h;
  h.record(UINT64_MAX);
  h.record(UINT64_MAX);
  EXPECT_EQ(h.sum(), UINT64_MAX);
  EXPECT_EQ(h.max(), UINT64_MAX);
  EXPECT_EQ(h.percentile(50), UINT64_MAX);
}

TEST(Histogram, Merge_AddsCountsAndKeepsExtremes) {
  Histogram a, b;
  a.record(10);
  a.record(1'000'000);
  b.record(3);
  b.record(5'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.min(), 3u);
  EXPECT_EQ(a.max(), 5'000'000u);
  EXPECT_EQ(a.sum(), 10u + 1'000'000u + 3u + 5'000'000u);
  EXPECT_EQ(a.count_at_or_below(10), 2u);
  Histogram empty;
  a.merge(empty);
  EXPECT_EQ(a.min(), 3u);
}

TEST(Histogram, Reset_ForgetsEverything) {
  Histogram h;
  h.record(42);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.count_at_or_below(100), 0u);
  h.record(5);
  EXPECT_EQ(h.min(), 5u);
}

TEST(Histogram, Moved_KeepsItsValues) {
  Histogram a;
  a.record(1234);
  Histogram b = std::move(a);
  EXPECT_EQ(b.count(), 1u);
  std::vector<Histogram> per_thread;
  per_thread.emplace_back();
  per_thread.emplace_back(std::move(b));
  EXPECT_EQ(per_thread[1].max(), 1234u);
}

// One writer, one concurrent reader: the reader never sees a count go backwards and the final
// totals are exact (TSan checks that this is race-free).
TEST(Histogram, ConcurrentReader_SeesMonotoneCountsAndExactTotals) {
  Histogram h;
  constexpr std::uint64_t kRecords = 200'000;
  std::atomic<bool> done{false};
  std::uint64_t last_seen = 0;
  bool monotone = true;
  std::thread reader([&] {
    while (!done.load()) {
      const std::uint64_t c = h.count();
      monotone = monotone && c >= last_seen;
      last_seen = c;
      (void)h.percentile(99);
    }
  });
  for (std::uint64_t i = 0; i < kRecords; ++i) h.record(i % 5000);
  done.store(true);
  reader.join();
  EXPECT_TRUE(monotone);
  EXPECT_EQ(h.count(), kRecords);
  EXPECT_EQ(h.count_at_or_below(UINT64_MAX), kRecords);
}

}  // namespace
}  // namespace zcnet

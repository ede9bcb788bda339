// mmap through the engine's MappingCache: a file sent again reuses its mapping, sees the file as
// it is now, and a truncation after the mapping was made ends in ENODATA, never SIGBUS.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "support.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet {
namespace {

using test::Receiver;
using test::TempFile;

struct Sent {
  Result<Stats> stats;
  Receiver::Result got;
  StrategyKind strategy;
};

Sent send_once(Engine& engine, const FileRange& range, StrategyKind k = StrategyKind::Mmap) {
  auto [c, s] = test::tcp_pair(/*nonblocking_client=*/true);
  Receiver rx(std::move(s));
  TransferOptions o;
  o.strategy = k;
  o.allow_fallback = false;
  Transfer t(engine, range, Socket{c.get()}, o);
  Result<Stats> stats = run_blocking(t, 10'000);
  c.reset();
  return Sent{std::move(stats), rx.wait(), t.choice().strategy};
}

EngineOptions defaults() {
  EngineOptions o;
  o.profile = Profile::defaults();
  return o;
}

TEST(MmapCached, SameFileTwice_MapsOnceAndBothAreByteExact) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern((1 << 20) + 3);
  for (int i = 0; i < 2; ++i) {
    Sent r = send_once(engine, FileRange{f.fd()});
    ASSERT_TRUE(r.stats) << r.stats.error().message();
    EXPECT_EQ(r.got.bytes, f.size());
    EXPECT_EQ(r.got.hash, f.hash());
  }
  EXPECT_EQ(engine.mappings().stats().misses, 1u);
  EXPECT_EQ(engine.mappings().stats().hits, 1u);
}

TEST(MmapCached, UnalignedRange_SendsOnlyThatRange) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern(3 << 20);
  const FileRange range{f.fd(), 4097, (2 << 20) + 5};
  Sent r = send_once(engine, range);
  ASSERT_TRUE(r.stats) << r.stats.error().message();
  EXPECT_EQ(r.got.bytes, *range.length);
  EXPECT_EQ(r.got.hash, f.hash(4097, *range.length));
  EXPECT_EQ(engine.mappings().stats().misses, 1u);
}

TEST(MmapCached, FileRewrittenBetweenSends_SendsTheNewBytes) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern(512 * 1024, 1);
  ASSERT_TRUE(send_once(engine, FileRange{f.fd()}).stats);
  const auto fresh = test::pattern(f.size(), 42);
  ASSERT_EQ(::pwrite(f.fd(), fresh.data(), fresh.size(), 0), static_cast<ssize_t>(fresh.size()));
  Sent r = send_once(engine, FileRange{f.fd()});
  ASSERT_TRUE(r.stats) << r.stats.error().message();
  EXPECT_EQ(r.got.hash, test::hash_bytes(fresh.data(), fresh.size()));
  EXPECT_EQ(engine.mappings().stats().hits, 1u);
}

TEST(MmapCached, FileGrownBetweenSends_SendsTheWholeNewLength) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern(200000, 1);
  ASSERT_TRUE(send_once(engine, FileRange{f.fd()}).stats);
  const auto more = test::pattern(300001, 5);
  ASSERT_EQ(::pwrite(f.fd(), more.data(), more.size(), 200000), static_cast<ssize_t>(more.size()));
  Sent r = send_once(engine, FileRange{f.fd()});
  ASSERT_TRUE(r.stats) << r.stats.error().message();
  EXPECT_EQ(r.got.bytes, 500001u);
  EXPECT_EQ(r.got.hash, f.hash());
}

TEST(MmapCached, FileTruncatedAfterItWasMapped_EndsInEnodataWithAnExactPrefix) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern(2 << 20);
  const std::uint64_t full = f.size();
  ASSERT_TRUE(send_once(engine, FileRange{f.fd()}).stats);  // the mapping is now cached
  const std::uint64_t keep = 171 * 4096;  // page-aligned: no zero-filled tail page to send
  const std::uint64_t kept_hash = f.hash(0, keep);
  ASSERT_EQ(::ftruncate(f.fd(), static_cast<off_t>(keep)), 0);
  Sent r = send_once(engine, FileRange{f.fd(), 0, full});  // a stated length the file lacks now
  ASSERT_FALSE(r.stats);
  EXPECT_EQ(r.stats.error().code(), ENODATA) << r.stats.error().message();
  EXPECT_NE(r.stats.error().message().find("shrank"), std::string::npos)
      << r.stats.error().message();
  EXPECT_LE(r.got.bytes, keep);
  EXPECT_EQ(r.got.hash, f.hash(0, r.got.bytes));
  if (r.got.bytes == keep) {
    EXPECT_EQ(r.got.hash, kept_hash);
  }
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGBUS));
}

TEST(MmapCached, Auto_FileAboveTheSendfileWindowToALocalSocket_GoesByTheCachedMapping) {
  Engine engine(defaults());
  TempFile f = TempFile::with_pattern(1 << 20);
  for (int i = 0; i < 3; ++i) {
    Sent r = send_once(engine, FileRange{f.fd()}, StrategyKind::Auto);
    ASSERT_TRUE(r.stats) << r.stats.error().message();
    EXPECT_EQ(r.strategy, StrategyKind::Mmap);
    EXPECT_EQ(r.got.hash, f.hash());
  }
  EXPECT_EQ(engine.mappings().stats().misses, 1u);
  EXPECT_EQ(engine.mappings().stats().hits, 2u);
}

TEST(MmapCached, FileLargerThanTheCacheTakes_GoesInWindowsByteExact) {
  EngineOptions o = defaults();
  o.mappings.max_file_bytes = 1 << 20;
  Engine engine(std::move(o));
  TempFile f = TempFile::with_pattern((9 << 20) + 7);
  Sent r = send_once(engine, FileRange{f.fd()});
  ASSERT_TRUE(r.stats) << r.stats.error().message();
  EXPECT_EQ(r.got.hash, f.hash());
  EXPECT_EQ(engine.mappings().stats().misses, 0u);
  EXPECT_EQ(engine.mappings().stats().bypassed, 1u);
}

}  // namespace
}  // namespace zcnet

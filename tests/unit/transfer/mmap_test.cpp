// mmap: a file range written straight from a mapping; truncation ends in ENODATA, never SIGBUS.
#include <signal.h>
#include <sys/socket.h>

#include "strategy_driver.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

TEST(Mmap, UnalignedRangeAcrossWindows_SendsOnlyThatRange) {
  TempFile f = TempFile::with_pattern(20 << 20);
  FileRange range{-1, 4097, (17 << 20) + 5};
  Delivery d = file_to_socket(StrategyKind::Mmap, f, range, false, kNoBudget, true);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, *range.length);
  EXPECT_EQ(d.rx.hash, f.hash(4097, *range.length));
}

TEST(Mmap, NonblockingSinkWithSmallBudget_IsByteExact) {
  TempFile f = TempFile::with_pattern((9 << 20) + 1);
  Delivery d = file_to_socket(StrategyKind::Mmap, f, FileRange{}, true, 256 * 1024);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, f.size());
  EXPECT_EQ(d.rx.hash, f.hash());
}

TEST(Mmap, FileToFile_WritesAtSinkOffset) {
  TempFile f = TempFile::with_pattern(3 << 20);
  TempFile out = TempFile::empty();
  Harness h;
  auto strategy =
      h.make(StrategyKind::Mmap, FileRange{f.fd(), 100, 2 << 20}, FileRange{out.fd(), 7});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), 7u + (2 << 20));
  EXPECT_EQ(out.hash(7), f.hash(100, 2 << 20));
}

TEST(Mmap, FileToPipe_IsByteExact) {
  TempFile f = TempFile::with_pattern(1 << 20);
  Harness h;
  auto [r, w] = make_pipe();
  Receiver rx(std::move(r));
  auto strategy = h.make(StrategyKind::Mmap, FileRange{f.fd()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  w.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST(Mmap, SocketSource_IsNotSupported) {
  Harness h;
  auto [c, s] = unix_pair();
  auto made = make_strategy(StrategyKind::Mmap, Socket{c.get()}, Socket{s.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

TEST(Mmap, FileTruncatedToZeroBeforeTheWindowIsMapped_EndsInEnodata) {
  TempFile f = TempFile::with_pattern(1 << 20);
  Harness h;
  auto [c, s] = unix_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::Mmap, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  ASSERT_EQ(::ftruncate(f.fd(), 0), 0);
  Driven d = drive(*strategy);
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_EQ(d.bytes, 0u);
  c.reset();
}

}  // namespace
}  // namespace zcnet

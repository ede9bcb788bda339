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

TEST(Mmap, FileToSocket_PeerResetMidway_ReturnsTypedError) {
  TempFile f = TempFile::with_pattern(64 << 20);
  Harness h;
  auto [c, s] = tcp_pair();
  ResettingPeer peer(std::move(s), 1 << 20);
  auto strategy = h.make(StrategyKind::Mmap, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_TRUE(is_reset_error(d.error_code())) << d.error_text();
  EXPECT_LT(d.bytes, f.size());
}

// The mapping stays in place while the file shrinks under it: the kernel meets pages past the new
// end inside send(), which must come back as EFAULT/short count and end in ENODATA.
TEST(Mmap, FileTruncatedUnderMappingBetweenSteps_EndsInEnodataNotSigbus) {
  TempFile f = TempFile::with_pattern(16 << 20);
  Harness h;
  auto [c, s] = tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::Mmap, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy, 64 * 1024, [&](const Driven& so_far) {
    if (so_far.steps == 1) {
      ASSERT_EQ(::ftruncate(f.fd(), 1 << 20), 0);
    }
  });
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_NE(d.error_text().find(f.path()), std::string::npos) << d.error_text();
  EXPECT_EQ(d.bytes, 1u << 20);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGBUS));
  c.reset();
  EXPECT_EQ(rx.wait().bytes, 1u << 20);
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

TEST(Mmap, FileTruncatedByAnotherThreadWhileReceiverIsSlow_EndsInEnodataNotSigbus) {
  TempFile f = TempFile::with_pattern(64 << 20);
  Harness h;
  auto [c, s] = tcp_pair();
  SlowReceiver rx(std::move(s));
  std::thread truncator([&] {
    while (rx.bytes() < (4u << 20)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ::ftruncate(f.fd(), 1 << 20);
    rx.release();
  });
  auto strategy = h.make(StrategyKind::Mmap, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  truncator.join();
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_LT(d.bytes, 64u << 20);
  c.reset();
  rx.wait();
}

}  // namespace
}  // namespace zcnet

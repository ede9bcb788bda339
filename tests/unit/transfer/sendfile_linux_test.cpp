// sendfile: file -> socket/pipe by sendfile(2), file -> file by copy_file_range(2).
#include <fcntl.h>
#include <sys/socket.h>

#include "strategy_driver.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

TEST(Sendfile, FileRangeAtOffset_SendsOnlyThatRangeAndLeavesTheFdPositionAlone) {
  TempFile f = TempFile::with_pattern(1 << 20);
  ASSERT_EQ(::lseek(f.fd(), 333, SEEK_SET), 333);
  FileRange range{-1, 5000, 400001};
  Delivery d = file_to_socket(StrategyKind::Sendfile, f, range, false, kNoBudget, true);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, 400001u);
  EXPECT_EQ(d.rx.hash, f.hash(5000, 400001));
  EXPECT_EQ(::lseek(f.fd(), 0, SEEK_CUR), 333);
}

TEST(Sendfile, NonblockingSinkWithSmallBudget_IsByteExact) {
  TempFile f = TempFile::with_pattern((8 << 20) + 3);
  Delivery d = file_to_socket(StrategyKind::Sendfile, f, FileRange{}, true, 128 * 1024);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, f.size());
  EXPECT_EQ(d.rx.hash, f.hash());
}

TEST(Sendfile, FileToFile_WritesAtSinkOffset) {
  TempFile f = TempFile::with_pattern(5 << 20);
  TempFile out = TempFile::empty();
  Harness h;
  auto strategy =
      h.make(StrategyKind::Sendfile, FileRange{f.fd(), 4096, 3 << 20}, FileRange{out.fd(), 11});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  if (!d.last.handled) GTEST_SKIP() << "copy_file_range refused: " << d.error_text();
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), 11u + (3 << 20));
  EXPECT_EQ(out.hash(11), f.hash(4096, 3 << 20));
}

TEST(Sendfile, FileToOverlappingRangeOfItself_IsNotHandledSoTheTransferCanFallBack) {
  TempFile f = TempFile::with_pattern(1 << 20);
  Harness h;
  auto strategy =
      h.make(StrategyKind::Sendfile, FileRange{f.fd(), 0, 65536}, FileRange{f.fd(), 4096});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  EXPECT_FALSE(o.handled);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code(), EINVAL) << o.error->message();
  EXPECT_EQ(o.bytes, 0u);
}

TEST(Sendfile, FileToPipe_IsByteExact) {
  TempFile f = TempFile::with_pattern((2 << 20) + 1);
  Harness h;
  auto [r, w] = make_pipe();
  Receiver rx(std::move(r));
  auto strategy = h.make(StrategyKind::Sendfile, FileRange{f.fd()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  if (!d.last.handled) GTEST_SKIP() << "sendfile to a pipe refused: " << d.error_text();
  ASSERT_TRUE(d.ok()) << d.error_text();
  w.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST(Sendfile, MemorySource_IsNotSupported) {
  Harness h;
  auto bytes = pattern(10);
  auto [c, s] = unix_pair();
  auto made = make_strategy(StrategyKind::Sendfile, Memory{bytes}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

}  // namespace
}  // namespace zcnet

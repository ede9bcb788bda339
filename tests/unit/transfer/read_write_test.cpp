// read-write: the portable baseline, for every source/sink pair.
#include <fcntl.h>
#include <sys/socket.h>

#include "strategy_driver.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

TEST(ReadWrite, FileRangeAtOffset_SendsOnlyThatRange) {
  TempFile f = TempFile::with_pattern(1 << 20);
  FileRange range{-1, 12345, 300000};
  Delivery d = file_to_socket(StrategyKind::ReadWrite, f, range, false, kNoBudget, true);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, 300000u);
  EXPECT_EQ(d.rx.hash, f.hash(12345, 300000));
}

TEST(ReadWrite, NonblockingSinkWithSmallBudget_KeepsUnwrittenBytesAcrossSteps) {
  TempFile f = TempFile::with_pattern((4 << 20) + 17);
  Delivery d = file_to_socket(StrategyKind::ReadWrite, f, FileRange{}, true, 100000);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_GT(d.drive.steps, 10);
  EXPECT_EQ(d.rx.bytes, f.size());
  EXPECT_EQ(d.rx.hash, f.hash());
}

TEST(ReadWrite, MemoryToSocket_WritesWithoutUserCopy) {
  auto bytes = pattern(3 << 20);
  Harness h;
  auto [c, s] = tcp_pair(true);
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::ReadWrite, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, bytes.size());
  EXPECT_EQ(got.hash, hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(h.stats.bytes_copied_user, 0u);
}

TEST(ReadWrite, MemoryLongerLimitThanBytes_EndsInEnodata) {
  auto bytes = pattern(1000);
  Harness h;
  h.ctx.limit = 2000;
  auto [c, s] = unix_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::ReadWrite, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_EQ(d.bytes, 1000u);
  c.reset();
}

TEST(ReadWrite, SocketToFileUntilEof_WritesAtSinkOffset) {
  auto bytes = pattern((2 << 20) + 3);
  TempFile out = TempFile::empty();
  Harness h;
  auto [c, s] = tcp_pair();
  Writer writer(std::move(c), bytes);
  auto strategy = h.make(StrategyKind::ReadWrite, Socket{s.get()}, FileRange{out.fd(), 4096});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), 4096 + bytes.size());
  EXPECT_EQ(out.hash(4096), hash_bytes(bytes.data(), bytes.size()));
}

TEST(ReadWrite, PipeToPipe_WithLimit_StopsAtLimit) {
  auto bytes = pattern(300000);
  Harness h;
  h.ctx.limit = 200000;
  auto [in_r, in_w] = make_pipe();
  auto [out_r, out_w] = make_pipe();
  Writer writer(std::move(in_w), bytes);
  Receiver rx(std::move(out_r));
  auto strategy = h.make(StrategyKind::ReadWrite, Pipe{in_r.get()}, Pipe{out_w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  out_w.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, 200000u);
  EXPECT_EQ(got.hash, hash_bytes(bytes.data(), 200000));
  in_r.reset();  // the writer's last bytes now meet EPIPE; Writer uses MSG_NOSIGNAL or write
}

TEST(ReadWrite, NonblockingSocketSourceWithNoData_WaitsForRead) {
  TempFile out = TempFile::empty();
  Harness h;
  auto [c, s] = tcp_pair();
  set_nonblocking(s.get());
  auto strategy = h.make(StrategyKind::ReadWrite, Socket{s.get()}, FileRange{out.fd()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait);
  EXPECT_EQ(o.wait->fd, s.get());
  EXPECT_EQ(o.wait->dir, Direction::Read);
  EXPECT_FALSE(o.error);
  EXPECT_FALSE(o.done);
  EXPECT_TRUE(o.handled);
  EXPECT_EQ(h.buffers.stats().in_use, 0u) << "an idle transfer holds no buffer";
}

TEST(ReadWrite, BudgetCoveringTheWholeRange_IsDoneInOneStep) {
  TempFile f = TempFile::with_pattern(100000);
  Harness h;
  auto [c, s] = unix_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::ReadWrite, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step(100000);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.bytes, 100000u);
  c.reset();
  EXPECT_EQ(rx.wait().hash, f.hash());
}

}  // namespace
}  // namespace zcnet

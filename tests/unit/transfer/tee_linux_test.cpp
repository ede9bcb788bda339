// tee: the sink and the mirror each get every byte, paced by the slower one, with no user copy.
#include <fcntl.h>
#include <sys/socket.h>

#include "strategy_driver.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

struct TeeResult {
  Driven drive;
  Receiver::Result sink;
  Receiver::Result mirror;
  Stats stats;
  PipePoolStats pipes;
};

// Feeds `bytes` into a socket or pipe source, tees it to a socket sink and a pipe or socket
// mirror, and hashes both outputs.
TeeResult tee_through(const std::vector<std::byte>& bytes, bool socket_source, bool socket_mirror,
                      std::uint64_t budget = kNoBudget, bool nonblocking = false) {
  Harness h;
  auto [src_r, src_w] = socket_source ? tcp_pair() : make_pipe();
  auto [dst_c, dst_s] = tcp_pair();
  auto [mir_r, mir_w] = socket_mirror ? unix_pair() : make_pipe();
  if (nonblocking) {
    set_nonblocking(src_r.get());
    set_nonblocking(dst_c.get());
    set_nonblocking(mir_w.get());
  }
  Source src = socket_source ? Source(Socket{src_r.get()}) : Source(Pipe{src_r.get()});
  h.ctx.mirror = socket_mirror ? Sink(Socket{mir_w.get()}) : Sink(Pipe{mir_w.get()});
  TeeResult r;
  {
    Writer writer(std::move(src_w), bytes);
    Receiver sink_rx(std::move(dst_s));
    Receiver mirror_rx(std::move(mir_r));
    if (auto strategy = h.make(StrategyKind::Tee, src, Socket{dst_c.get()}))
      r.drive = drive(*strategy, budget);
    src_r.reset();
    dst_c.reset();
    mir_w.reset();
    r.sink = sink_rx.wait();
    r.mirror = mirror_rx.wait();
  }
  r.stats = h.stats;
  r.pipes = h.pipes.stats();
  return r;
}

class Tee_PipeToSocketWithPipeMirror : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Tee_PipeToSocketWithPipeMirror, BothGetEveryByteExactly) {
  auto bytes = pattern(GetParam());
  TeeResult r = tee_through(bytes, false, false);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(r.sink.bytes, bytes.size());
  EXPECT_EQ(r.sink.hash, want);
  EXPECT_EQ(r.mirror.bytes, bytes.size());
  EXPECT_EQ(r.mirror.hash, want);
  EXPECT_EQ(r.stats.bytes, bytes.size());
  EXPECT_EQ(r.stats.bytes_copied_user, 0u);
  EXPECT_EQ(r.pipes.discarded_nonempty, 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, Tee_PipeToSocketWithPipeMirror,
                         ::testing::ValuesIn(sizes_to_check()));

TEST(Tee, SocketToSocketWithSocketMirror_BothGetEveryByteExactly) {
  auto bytes = pattern((16 << 20) + 3);
  TeeResult r = tee_through(bytes, true, true);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(r.sink.hash, want);
  EXPECT_EQ(r.mirror.hash, want);
  EXPECT_EQ(r.mirror.bytes, bytes.size());
}

TEST(Tee, SocketToSocketWithSocketMirror_256MiB_BothGetEveryByteExactly) {
  std::vector<std::byte> bytes = pattern(256u << 20, 3);
  TeeResult r = tee_through(bytes, true, true);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(r.sink.hash, want);
  EXPECT_EQ(r.mirror.hash, want);
}

TEST(Tee, NonblockingEverywhereSmallBudget_BothGetEveryByteExactly) {
  auto bytes = pattern((4 << 20) + 1);
  TeeResult r = tee_through(bytes, true, false, 32 * 1024, true);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(r.sink.hash, want);
  EXPECT_EQ(r.mirror.hash, want);
  EXPECT_GT(r.drive.waits, 0);
}

TEST(Tee, SlowMirror_PacesTheStreamAndLosesNothing) {
  auto bytes = pattern(8 << 20);
  Harness h;
  auto [src_c, src_s] = tcp_pair();
  auto [dst_c, dst_s] = tcp_pair();
  auto [mir_c, mir_s] = unix_pair();
  set_nonblocking(mir_c.get());
  set_nonblocking(dst_c.get());
  h.ctx.mirror = Socket{mir_c.get()};
  Writer writer(std::move(src_c), bytes);
  Receiver sink_rx(std::move(dst_s));
  SlowReceiver mirror_rx(std::move(mir_s), 256 * 1024);
  auto strategy = h.make(StrategyKind::Tee, Socket{src_s.get()}, Socket{dst_c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_TRUE(d.ok()) << d.error_text();
  EXPECT_GT(d.waits, 0);
  dst_c.reset();
  mir_c.reset();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(sink_rx.wait().hash, want);
  EXPECT_EQ(mirror_rx.wait(), bytes.size());
  EXPECT_EQ(mirror_rx.hash(), want);
}

TEST(Tee, SocketToFileWithPipeMirror_WritesAtSinkOffset) {
  auto bytes = pattern((1 << 20) + 11);
  TempFile out = TempFile::empty();
  Harness h;
  auto [c, s] = tcp_pair();
  auto [mir_r, mir_w] = make_pipe();
  h.ctx.mirror = Pipe{mir_w.get()};
  Writer writer(std::move(c), bytes);
  Receiver mirror_rx(std::move(mir_r));
  auto strategy = h.make(StrategyKind::Tee, Socket{s.get()}, FileRange{out.fd(), 3});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  mir_w.reset();
  const auto want = hash_bytes(bytes.data(), bytes.size());
  EXPECT_EQ(out.hash(3), want);
  EXPECT_EQ(mirror_rx.wait().hash, want);
}

TEST(Tee, WithLimit_StopsAtLimitOnBothOutputs) {
  auto bytes = pattern(1 << 20);
  Harness h;
  h.ctx.limit = 100001;
  auto [src_r, src_w] = make_pipe();
  auto [dst_c, dst_s] = unix_pair();
  auto [mir_r, mir_w] = make_pipe();
  h.ctx.mirror = Pipe{mir_w.get()};
  Writer writer(std::move(src_w), bytes);
  Receiver sink_rx(std::move(dst_s));
  Receiver mirror_rx(std::move(mir_r));
  auto strategy = h.make(StrategyKind::Tee, Pipe{src_r.get()}, Socket{dst_c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_TRUE(d.ok()) << d.error_text();
  dst_c.reset();
  mir_w.reset();
  src_r.reset();  // the writer's rest meets EPIPE
  const auto want = hash_bytes(bytes.data(), 100001);
  auto sink = sink_rx.wait();
  auto mirror = mirror_rx.wait();
  EXPECT_EQ(sink.bytes, 100001u);
  EXPECT_EQ(sink.hash, want);
  EXPECT_EQ(mirror.bytes, 100001u);
  EXPECT_EQ(mirror.hash, want);
}

TEST(Tee, WithoutMirror_IsNotSupported) {
  Harness h;
  auto [r, w] = make_pipe();
  auto [c, s] = unix_pair();
  auto made = make_strategy(StrategyKind::Tee, Pipe{r.get()}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

TEST(Tee, FileSource_IsNotSupported) {
  TempFile f = TempFile::with_pattern(10);
  Harness h;
  auto [r, w] = make_pipe();
  h.ctx.mirror = Pipe{w.get()};
  auto [c, s] = unix_pair();
  auto made = make_strategy(StrategyKind::Tee, FileRange{f.fd()}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

TEST(Tee, NonblockingSocketSourceWithNoData_WaitsForReadAndHoldsNoPipe) {
  Harness h;
  auto [c, s] = tcp_pair();
  auto [dst_c, dst_s] = unix_pair();
  auto [mir_r, mir_w] = make_pipe();
  set_nonblocking(s.get());
  h.ctx.mirror = Pipe{mir_w.get()};
  auto strategy = h.make(StrategyKind::Tee, Socket{s.get()}, Socket{dst_c.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait);
  EXPECT_EQ(o.wait->fd, s.get());
  EXPECT_EQ(o.wait->dir, Direction::Read);
  EXPECT_EQ(h.pipes.stats().idle, 2u);
}

TEST(Tee, MirrorResetMidway_ReturnsTypedErrorAndNeverPoolsANonEmptyPipe) {
  auto bytes = pattern(64 << 20);
  Harness h;
  auto [src_c, src_s] = tcp_pair();
  auto [dst_c, dst_s] = tcp_pair();
  auto [mir_c, mir_s] = tcp_pair();
  h.ctx.mirror = Socket{mir_c.get()};
  Writer writer(std::move(src_c), bytes);
  Receiver sink_rx(std::move(dst_s));
  Driven d;
  {
    ResettingPeer peer(std::move(mir_s), 1 << 20);
    auto strategy = h.make(StrategyKind::Tee, Socket{src_s.get()}, Socket{dst_c.get()});
    if (strategy) d = drive(*strategy);
  }
  src_s.reset();
  dst_c.reset();
  EXPECT_TRUE(is_reset_error(d.error_code())) << d.error_text();
  EXPECT_NE(d.error_text().find("mirror"), std::string::npos) << d.error_text();
  auto stats = h.pipes.stats();
  EXPECT_EQ(stats.idle + stats.discarded_nonempty, stats.created);
  sink_rx.wait();
}

}  // namespace
}  // namespace zcnet

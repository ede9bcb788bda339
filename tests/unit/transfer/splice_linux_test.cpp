// splice: through a pooled pipe, or directly when one end is a pipe; EAGAIN disambiguated; a pipe
// holding bytes is never pooled.
#include <fcntl.h>
#include <sys/socket.h>

#include "strategy_driver.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

TEST(Splice, FileRangeNonblockingSinkSmallBudget_IsByteExact) {
  TempFile f = TempFile::with_pattern(6 << 20);
  FileRange range{-1, 777, (5 << 20) + 1};
  Delivery d = file_to_socket(StrategyKind::Splice, f, range, true, 100000);
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, *range.length);
  EXPECT_EQ(d.rx.hash, f.hash(777, *range.length));
}

// Relays `bytes` from a socket fed by a writer thread to a socket read by a Receiver.
struct RelayResult {
  Driven drive;
  Receiver::Result rx;
  PipePoolStats pipes;
};

RelayResult relay(const std::vector<std::byte>& bytes, bool nonblocking, std::uint64_t budget,
                  std::optional<std::uint64_t> limit = std::nullopt) {
  Harness h;
  h.ctx.limit = limit;
  auto [in_c, in_s] = tcp_pair();
  auto [out_c, out_s] = tcp_pair();
  if (nonblocking) {
    set_nonblocking(in_s.get());
    set_nonblocking(out_c.get());
  }
  RelayResult r;
  {
    Writer writer(std::move(in_c), bytes);
    Receiver rx(std::move(out_s));
    if (auto strategy = h.make(StrategyKind::Splice, Socket{in_s.get()}, Socket{out_c.get()}))
      r.drive = drive(*strategy, budget);
    in_s.reset();  // unblocks the writer if the relay stopped early
    out_c.reset();
    r.rx = rx.wait();
  }
  r.pipes = h.pipes.stats();
  return r;
}

TEST(Splice, SocketToSocketRelayUntilEof_IsByteExact) {
  auto bytes = pattern((16 << 20) + 5);
  RelayResult r = relay(bytes, false, kNoBudget);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  EXPECT_EQ(r.rx.bytes, bytes.size());
  EXPECT_EQ(r.rx.hash, hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(r.pipes.discarded_nonempty, 0u);
}

TEST(Splice, SocketToSocketRelayNonblockingSmallBudget_IsByteExact) {
  auto bytes = pattern((8 << 20) + 1);
  RelayResult r = relay(bytes, true, 64 * 1024);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  // Whether a step ever finds the socket empty depends on the writer thread's pace, so waits are
  // not asserted here (NonblockingSocketSourceWithNoData_WaitsForRead covers that path).
  EXPECT_EQ(r.rx.bytes, bytes.size());
  EXPECT_EQ(r.rx.hash, hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(r.pipes.discarded_nonempty, 0u);
  EXPECT_LE(r.pipes.created, 1u) << "an idle relay gives its empty pipe back and reuses it";
}

TEST(Splice, SocketToSocketRelayWithLimit_StopsAtLimit) {
  auto bytes = pattern(1 << 20);
  RelayResult r = relay(bytes, false, kNoBudget, 300000);
  ASSERT_TRUE(r.drive.ok()) << r.drive.error_text();
  EXPECT_EQ(r.rx.bytes, 300000u);
  EXPECT_EQ(r.rx.hash, hash_bytes(bytes.data(), 300000));
}

TEST(Splice, SocketToFile_ReceivesAtSinkOffset) {
  auto bytes = pattern((3 << 20) + 9);
  TempFile out = TempFile::empty();
  Harness h;
  auto [c, s] = tcp_pair();
  Writer writer(std::move(c), bytes);
  auto strategy = h.make(StrategyKind::Splice, Socket{s.get()}, FileRange{out.fd(), 1000});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), 1000 + bytes.size());
  EXPECT_EQ(out.hash(1000), hash_bytes(bytes.data(), bytes.size()));
}

TEST(Splice, SocketToFileOpenedForAppend_IsNotHandledAndConsumesNothing) {
  TempFile out = TempFile::empty();
  UniqueFd append(::open(out.path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  ASSERT_TRUE(append);
  Harness h;
  auto [c, s] = unix_pair();
  ASSERT_EQ(::write(c.get(), "hello", 5), 5);
  auto strategy = h.make(StrategyKind::Splice, Socket{s.get()}, FileRange{append.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  if (o.handled && !o.error) GTEST_SKIP() << "this kernel splices into O_APPEND files";
  EXPECT_FALSE(o.handled);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code(), EINVAL) << o.error->message();
  char buf[8];
  EXPECT_EQ(::recv(s.get(), buf, sizeof buf, MSG_DONTWAIT), 5) << "nothing was consumed";
}

TEST(Splice, SocketToPipeDirect_IsByteExact) {
  auto bytes = pattern((2 << 20) + 7);
  Harness h;
  auto [c, s] = tcp_pair();
  auto [r, w] = make_pipe();
  Writer writer(std::move(c), bytes);
  Receiver rx(std::move(r));
  auto strategy = h.make(StrategyKind::Splice, Socket{s.get()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  w.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, bytes.size());
  EXPECT_EQ(got.hash, hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(h.pipes.stats().created, 0u) << "one end is a pipe: no intermediate pipe";
}

TEST(Splice, PipeToSocketDirect_IsByteExact) {
  auto bytes = pattern((2 << 20) + 7);
  Harness h;
  auto [r, w] = make_pipe();
  auto [c, s] = tcp_pair();
  Writer writer(std::move(w), bytes);
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::Splice, Pipe{r.get()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, bytes.size());
  EXPECT_EQ(got.hash, hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(h.pipes.stats().created, 0u);
}

TEST(Splice, PipeToFileDirect_WritesAtSinkOffset) {
  auto bytes = pattern(1 << 20);
  TempFile out = TempFile::empty();
  Harness h;
  auto [r, w] = make_pipe();
  Writer writer(std::move(w), bytes);
  auto strategy = h.make(StrategyKind::Splice, Pipe{r.get()}, FileRange{out.fd(), 5});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), 5 + bytes.size());
  EXPECT_EQ(out.hash(5), hash_bytes(bytes.data(), bytes.size()));
}

TEST(Splice, FileToPipeDirect_IsByteExact) {
  TempFile f = TempFile::with_pattern((1 << 20) + 3);
  Harness h;
  auto [r, w] = make_pipe();
  Receiver rx(std::move(r));
  auto strategy = h.make(StrategyKind::Splice, FileRange{f.fd()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  w.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST(Splice, NonblockingSocketSourceWithNoData_WaitsForReadAndHoldsNoPipe) {
  Harness h;
  auto [in_c, in_s] = tcp_pair();
  auto [out_c, out_s] = tcp_pair();
  set_nonblocking(in_s.get());
  auto strategy = h.make(StrategyKind::Splice, Socket{in_s.get()}, Socket{out_c.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait);
  EXPECT_EQ(o.wait->fd, in_s.get());
  EXPECT_EQ(o.wait->dir, Direction::Read);
  EXPECT_FALSE(o.error);
  EXPECT_EQ(h.pipes.stats().idle, 1u) << "the empty pipe went back to the pool";
}

TEST(Splice, DirectNonblockingSocketSourceWithNoData_WaitsForRead) {
  Harness h;
  auto [c, s] = unix_pair();
  auto [r, w] = make_pipe(true);
  set_nonblocking(s.get());
  auto strategy = h.make(StrategyKind::Splice, Socket{s.get()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait);
  EXPECT_EQ(o.wait->fd, s.get());
  EXPECT_EQ(o.wait->dir, Direction::Read);
}

TEST(Splice, DirectSourceWithDataIntoFullPipe_WaitsForPipeWrite) {
  Harness h;
  auto [c, s] = tcp_pair();
  auto [r, w] = make_pipe(true);
  std::vector<char> fill(4096, 'x');
  while (::write(w.get(), fill.data(), fill.size()) > 0) {
  }
  ASSERT_EQ(::write(c.get(), "data", 4), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // loopback delivery
  auto strategy = h.make(StrategyKind::Splice, Socket{s.get()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait);
  EXPECT_EQ(o.wait->fd, w.get());
  EXPECT_EQ(o.wait->dir, Direction::Write);
}

// The EAGAIN ambiguity: with bytes in the pipe, a full sink must be waited on, not the source.
TEST(Splice, SinkFullWhilePipeHoldsBytes_WaitsForSinkWriteAndLosesNothing) {
  auto bytes = pattern(16 << 20);
  Harness h;
  auto [in_c, in_s] = tcp_pair();
  auto [out_c, out_s] = tcp_pair();
  set_nonblocking(out_c.get());
  Writer writer(std::move(in_c), bytes);
  auto strategy = h.make(StrategyKind::Splice, Socket{in_s.get()}, Socket{out_c.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  ASSERT_TRUE(o.wait) << (o.error ? o.error->message() : "no wait");
  EXPECT_EQ(o.wait->fd, out_c.get());
  EXPECT_EQ(o.wait->dir, Direction::Write);
  std::uint64_t first = o.bytes;
  Receiver rx(std::move(out_s));
  Driven d = drive(*strategy);
  EXPECT_TRUE(d.ok()) << d.error_text();
  out_c.reset();
  auto got = rx.wait();
  EXPECT_EQ(first + d.bytes, bytes.size());
  EXPECT_EQ(got.bytes, bytes.size());
  EXPECT_EQ(got.hash, hash_bytes(bytes.data(), bytes.size()));
}

TEST(Splice, FileToSocket_PeerResetMidway_ReturnsTypedErrorAndClosesTheNonEmptyPipe) {
  TempFile f = TempFile::with_pattern(64 << 20);
  Harness h;
  auto [c, s] = tcp_pair();
  ResettingPeer peer(std::move(s), 1 << 20);
  auto strategy = h.make(StrategyKind::Splice, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_TRUE(is_reset_error(d.error_code())) << d.error_text();
  strategy.reset();
  auto stats = h.pipes.stats();
  EXPECT_EQ(stats.discarded_nonempty, 1u);
  EXPECT_EQ(stats.idle, 0u) << "a pipe holding bytes is never pooled";
}

TEST(Splice, SocketToSocket_PeerResetMidway_ReturnsTypedError) {
  auto bytes = pattern(64 << 20);
  Harness h;
  auto [in_c, in_s] = tcp_pair();
  auto [out_c, out_s] = tcp_pair();
  Writer writer(std::move(in_c), bytes);
  Driven d;
  {
    ResettingPeer peer(std::move(out_s), 1 << 20);
    auto strategy = h.make(StrategyKind::Splice, Socket{in_s.get()}, Socket{out_c.get()});
    if (strategy) d = drive(*strategy);
  }
  in_s.reset();  // the writer meets a closed socket and stops
  EXPECT_TRUE(is_reset_error(d.error_code())) << d.error_text();
  EXPECT_TRUE(d.last.handled);
  EXPECT_EQ(h.pipes.stats().idle, 0u);
}

TEST(Splice, SuccessfulTransfers_ReuseOnePooledPipe) {
  TempFile f = TempFile::with_pattern(1 << 20);
  Harness h;
  for (int i = 0; i < 3; ++i) {
    auto [c, s] = unix_pair();
    Receiver rx(std::move(s));
    auto strategy = h.make(StrategyKind::Splice, FileRange{f.fd()}, Socket{c.get()});
    ASSERT_TRUE(strategy);
    Driven d = drive(*strategy);
    ASSERT_TRUE(d.ok()) << d.error_text();
    c.reset();
    EXPECT_EQ(rx.wait().hash, f.hash());
  }
  auto stats = h.pipes.stats();
  EXPECT_EQ(stats.created, 1u);
  EXPECT_EQ(stats.reused, 2u);
  EXPECT_EQ(stats.discarded_nonempty, 0u);
}

TEST(Splice, MemorySource_IsNotSupported) {
  Harness h;
  auto bytes = pattern(10);
  auto [c, s] = unix_pair();
  auto made = make_strategy(StrategyKind::Splice, Memory{bytes}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

}  // namespace
}  // namespace zcnet

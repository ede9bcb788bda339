// Cancellation: every kind of pending operation ends with ECANCELED when its token's source is
// cancelled, and the loop keeps working afterwards.
#include <sys/socket.h>

#include "loop_test_support.hpp"
#include "support.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class CancelTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(CancelTest);

// Starts `op(token)` (a task returning a Result), cancels the source 20 ms later, and returns
// the error code the op ended with (0 = it succeeded).
template <class MakeOp>
int cancel_after_start(Loop& loop, MakeOp make_op) {
  return loop.block_on([](Loop& l, MakeOp mk) -> Task<int> {
    CancelSource src;
    l.spawn([](Loop& lp, CancelSource s) -> Task<void> {
      (void)co_await lp.sleep_for(20ms);
      s.cancel();
    }(l, src));
    const CancelToken tok = src.token();  // named: no temporaries inside co_await
    auto r = co_await mk(l, tok);
    co_return r ? 0 : r.error().code();
  }(loop, make_op));
}

// Fills fd's send buffer so the next write would block.
void fill_send_buffer(int fd) {
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  std::vector<char> junk(65536);
  while (::send(fd, junk.data(), junk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
}

TEST_P(CancelTest, Readable_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  int fd = a.get();
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd](Loop& l, CancelToken t) -> Task<Result<void>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.readable(fd, io);
                               }),
            ECANCELED);
  loop->close(std::move(a));
}

TEST_P(CancelTest, Writable_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  fill_send_buffer(a.get());
  int fd = a.get();
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd](Loop& l, CancelToken t) -> Task<Result<void>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.writable(fd, io);
                               }),
            ECANCELED);
  loop->close(std::move(a));
}

TEST_P(CancelTest, Read_Cancelled_ReturnsEcanceled_ThenReadStillWorks) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  int fd = a.get();
  std::byte buf[8];
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd, &buf](Loop& l, CancelToken t) -> Task<Result<std::size_t>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.read(fd, buf, io);
                               }),
            ECANCELED);
  ASSERT_EQ(::send(b.get(), "x", 1, 0), 1);
  auto r = loop->block_on([](Loop& l, int f, std::byte* p) -> Task<Result<std::size_t>> {
    co_return co_await l.read(f, std::span(p, 8), within(5s));
  }(*loop, fd, buf));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 1u);
  loop->close(std::move(a));
}

TEST_P(CancelTest, Write_BlockedOnFullBuffer_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto [a, b] = tcp_pair(true);
  fill_send_buffer(a.get());
  int fd = a.get();
  std::vector<std::byte> data(1 << 20);
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd, &data](Loop& l, CancelToken t) -> Task<Result<std::size_t>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.write(fd, data, io);
                               }),
            ECANCELED);
  loop->close(std::move(a));
}

TEST_P(CancelTest, SendZc_BlockedOnFullBuffer_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto [a, b] = tcp_pair(true);
  fill_send_buffer(a.get());
  int fd = a.get();
  std::vector<std::byte> data(1 << 20);
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd, &data](Loop& l, CancelToken t) -> Task<Result<std::size_t>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.send_zc(fd, data, io);
                               }),
            ECANCELED);
  loop->close(std::move(a));
}

TEST_P(CancelTest, Recv_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  int fd = a.get();
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd](Loop& l, CancelToken t) -> Task<Result<RecvBuffer>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.recv(fd, io);
                               }),
            ECANCELED);
  loop->close(std::move(a));
}

TEST_P(CancelTest, Accept_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto listener = listen_tcp("127.0.0.1", 0).value();
  int fd = listener.get();
  EXPECT_EQ(cancel_after_start(*loop,
                               [fd](Loop& l, CancelToken t) -> Task<Result<UniqueFd>> {
                                 const IoOptions io(t);  // named: no temporaries inside co_await
                                 co_return co_await l.accept(fd, io);
                               }),
            ECANCELED);
  loop->close(std::move(listener));
}

TEST_P(CancelTest, Connect_PendingOnFullBacklog_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  auto listener = listen_tcp("127.0.0.1", 0, {.backlog = 0}).value();
  auto addr = loopback(local_port(listener.get()).value());
  // Fill the accept queue (never accepted): later SYNs are dropped, so connects stay pending.
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 4; ++i) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    (void)::connect(s.get(), as_sockaddr(addr), sizeof addr);
    fillers.push_back(std::move(s));
  }
  ::usleep(50'000);
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int fd = s.get();
  int code = cancel_after_start(*loop, [fd, addr](Loop& l, CancelToken t) -> Task<Result<void>> {
    const IoOptions io(t);  // named: no temporaries inside co_await
    co_return co_await l.connect(fd, as_sockaddr(addr), sizeof addr, io);
  });
  if (code == 0) GTEST_SKIP() << "the kernel completed the connect despite a full backlog";
  EXPECT_EQ(code, ECANCELED);
  loop->close(std::move(s));
}

TEST_P(CancelTest, Sleep_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  EXPECT_EQ(cancel_after_start(*loop,
                               [](Loop& l, CancelToken t) -> Task<Result<void>> {
                                 co_return co_await l.sleep_for(1h, t);
                               }),
            ECANCELED);
}

TEST_P(CancelTest, Transfer_WaitingOnSilentSource_Cancelled_ReturnsEcanceled) {
  auto loop = make_loop();
  Engine engine;
  auto [src_peer, src] = unix_pair_nonblocking();
  auto [dst, dst_peer] = unix_pair_nonblocking();
  Transfer t(engine, Socket{src.get()}, Socket{dst.get()});
  EXPECT_EQ(cancel_after_start(*loop,
                               [&t](Loop& l, CancelToken tok) -> Task<Result<Stats>> {
                                 const IoOptions io(tok);  // named: no temporaries inside co_await
                                 co_return co_await transfer(l, t, io);
                               }),
            ECANCELED);
  loop->close(std::move(src));
  loop->close(std::move(dst));
}

TEST_P(CancelTest, AlreadyCancelledToken_FailsAtOnce) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  CancelSource src;
  src.cancel();
  auto r = loop->block_on([](Loop& l, int fd, CancelToken t) -> Task<Result<void>> {
    const IoOptions io(t);  // named: no temporaries inside co_await
    co_return co_await l.readable(fd, io);
  }(*loop, a.get(), src.token()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ECANCELED);
}

TEST_P(CancelTest, Close_EndsPendingOpsOnThatFd) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  int code = loop->block_on([](Loop& l, UniqueFd fd) -> Task<int> {
    int raw = fd.get();
    l.spawn([](Loop& lp, UniqueFd f) -> Task<void> {
      (void)co_await lp.sleep_for(20ms);
      lp.close(std::move(f));
    }(l, std::move(fd)));
    auto r = co_await l.recv(raw, within(10s));
    co_return r ? 0 : r.error().code();
  }(*loop, std::move(a)));
  EXPECT_EQ(code, ECANCELED);
}

}  // namespace
}  // namespace zcnet::test

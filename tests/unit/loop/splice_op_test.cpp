// Loop::splice on every backend: socket -> pipe -> socket byte-exact, an empty source answered
// with EAGAIN at once (never waited on), EOF as 0; ENOSYS where the build has no splice.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <vector>

#include "loop_test_support.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class SpliceOpTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(SpliceOpTest);

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
      r.reset(fds[0]);
      w.reset(fds[1]);
    }
  }
};

#ifndef ZCNET_PORTABLE

std::vector<std::byte> pattern_bytes(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + i / 977) & 0xff);
  return v;
}

struct Moved {
  std::size_t bytes = 0;
  int error = 0;  // errno of the first failure
  bool eof = false;
};

// One loop.splice, and on its EAGAIN a wait for `wait_fd` to become ready for `dir`, until a
// splice moves bytes, sees EOF or fails.
Task<Result<std::size_t>> splice_when_ready(Loop& loop, int in, int out, std::size_t len,
                                            int wait_fd, Direction dir, const IoOptions& io) {
  for (;;) {
    auto n = co_await loop.splice(in, out, len, io);
    if (n || n.error().code() != EAGAIN) co_return n;
    auto ready = co_await loop.wait(wait_fd, dir, io);
    if (!ready) co_return std::move(ready).error();
  }
}

// Moves everything `from` delivers into `to` through `pipe` with loop.splice only, until EOF.
Task<void> relay(Loop& loop, int from, int to, const Pipe& pipe, Moved& m) {
  const IoOptions io(Clock::now() + 10s);  // named: no temporaries inside co_await
  for (;;) {
    auto in =
        co_await splice_when_ready(loop, from, pipe.w.get(), 64 * 1024, from, Direction::Read, io);
    if (!in) {
      m.error = in.error().code();
      co_return;
    }
    if (*in == 0) {
      m.eof = true;
      co_return;
    }
    for (std::size_t left = *in; left > 0;) {
      auto out = co_await splice_when_ready(loop, pipe.r.get(), to, left, to, Direction::Write, io);
      if (!out || *out == 0) {  // a pipe holding bytes never gives 0
        m.error = out ? EIO : out.error().code();
        co_return;
      }
      left -= *out;
      m.bytes += *out;
    }
  }
}

TEST_P(SpliceOpTest, SocketToPipeToSocket_ByteExact) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  auto [src_w, src_r] = unix_pair_nonblocking();
  auto [dst_w, dst_r] = unix_pair_nonblocking();
  Pipe pipe;
  ASSERT_TRUE(src_w && dst_w && pipe.r);
  const std::vector<std::byte> sent = pattern_bytes(3 * 1024 * 1024 + 17);
  std::vector<std::byte> got;
  Moved m;
  // A writer and a reader task beside the relay, so every side fills and drains in turns.
  loop->spawn([](Loop& l, int fd, const std::vector<std::byte>& bytes) -> Task<void> {
    const IoOptions io(Clock::now() + 10s);
    (void)co_await l.write_all(fd, bytes, io);
    ::shutdown(fd, SHUT_WR);
  }(*loop, src_w.get(), sent));
  loop->spawn([](Loop& l, int fd, std::vector<std::byte>& out) -> Task<void> {
    const IoOptions io(Clock::now() + 10s);
    std::vector<std::byte> buf(100000);
    for (;;) {
      auto n = co_await l.read(fd, buf, io);
      if (!n || *n == 0) co_return;
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }(*loop, dst_r.get(), got));
  loop->block_on([](Loop& l, int from, int to, const Pipe& p, Moved& mv) -> Task<void> {
    co_await relay(l, from, to, p, mv);
    ::shutdown(to, SHUT_WR);
  }(*loop, src_r.get(), dst_w.get(), pipe, m));
  loop->run();  // the reader drains to EOF
  EXPECT_EQ(m.error, 0);
  EXPECT_TRUE(m.eof);
  EXPECT_EQ(m.bytes, sent.size());
  EXPECT_TRUE(got == sent);
}

TEST_P(SpliceOpTest, EmptySource_EagainAtOnce_NotWaitedOn) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  auto [a, b] = unix_pair_nonblocking();
  Pipe pipe;
  ASSERT_TRUE(a && pipe.w);
  int err = 0;
  const auto began = Clock::now();
  loop->block_on([](Loop& l, int from, int to, int& e) -> Task<void> {
    const IoOptions io(Clock::now() + 5s);
    auto n = co_await l.splice(from, to, 4096, io);
    e = n ? 0 : n.error().code();
  }(*loop, a.get(), pipe.w.get(), err));
  EXPECT_EQ(err, EAGAIN);
  EXPECT_LT(Clock::now() - began, 4s);  // answered, not left to its deadline
}

TEST_P(SpliceOpTest, PeerClosed_ZeroBytes) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  auto [a, b] = unix_pair_nonblocking();
  Pipe pipe;
  ASSERT_TRUE(a && pipe.w);
  b.reset();
  long got = -1;
  loop->block_on([](Loop& l, int from, int to, long& out) -> Task<void> {
    const IoOptions io(Clock::now() + 5s);
    auto n = co_await l.splice(from, to, 4096, io);
    out = n ? static_cast<long>(*n) : -n.error().code();
  }(*loop, a.get(), pipe.w.get(), got));
  EXPECT_EQ(got, 0);
}

#else

TEST_P(SpliceOpTest, NoSpliceInThisBuild_Enosys) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  auto [a, b] = unix_pair_nonblocking();
  Pipe pipe;
  int err = 0;
  loop->block_on([](Loop& l, int from, int to, int& e) -> Task<void> {
    const IoOptions io(Clock::now() + 5s);
    auto n = co_await l.splice(from, to, 4096, io);
    e = n ? 0 : n.error().code();
  }(*loop, a.get(), pipe.w.get(), err));
  EXPECT_EQ(err, ENOSYS);
}

#endif

}  // namespace
}  // namespace zcnet::test

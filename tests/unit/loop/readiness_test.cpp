// Loop::readable's contract for stream sockets: after a short read, waiting for readable is
// enough, on every backend, even when the peer's FIN arrived together with the bytes just read
// (the edge-triggered epoll backend gets one edge for both, and must not wait for another).
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>

#include "loop_test_support.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class ReadinessTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(ReadinessTest);

struct Seen {
  long first = -1;    // bytes of the short read
  bool woke = false;  // the second wait completed (not its deadline)
  long second = -1;   // the read after it: 0 is EOF
};

Task<void> read_short_then_wait(Loop& loop, int fd, Seen& seen) {
  const IoOptions wait_up_to(Clock::now() + 5s);  // named: no temporaries inside co_await
  auto first_wait = co_await loop.readable(fd, wait_up_to);
  if (!first_wait) co_return;
  std::array<std::byte, 4096> buf{};
  seen.first = static_cast<long>(::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT));
  auto second_wait = co_await loop.readable(fd, wait_up_to);
  seen.woke = second_wait.has_value();
  if (seen.woke) seen.second = static_cast<long>(::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT));
}

// Sends 10 bytes into a socket pair and half-closes it: before the loop first looks at the
// socket (`fin_with_bytes`: the bytes and the FIN come in one edge), or 50 ms later, once the
// reader has done its short read (the FIN brings its own edge).
void short_read_with_fin(Loop& loop, bool fin_with_bytes, Seen& seen) {
  auto [a, b] = unix_pair_nonblocking();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(::send(b.get(), "0123456789", 10, MSG_NOSIGNAL), 10);
  if (fin_with_bytes) {
    ASSERT_EQ(::shutdown(b.get(), SHUT_WR), 0);
  } else {
    loop.spawn([](Loop& l, int fd) -> Task<void> {
      (void)co_await l.sleep_for(50ms);
      ::shutdown(fd, SHUT_WR);
    }(loop, b.get()));
  }
  loop.block_on(read_short_then_wait(loop, a.get(), seen));
}

TEST_P(ReadinessTest, ShortReadWithFinQueued_NextReadableWaitCompletes) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  Seen seen;
  ASSERT_NO_FATAL_FAILURE(short_read_with_fin(*loop, true, seen));
  EXPECT_EQ(seen.first, 10);
  EXPECT_TRUE(seen.woke) << "the wait after a short read hung until its deadline";
  EXPECT_EQ(seen.second, 0);
}

TEST_P(ReadinessTest, ShortReadThenFinLater_NextReadableWaitCompletes) {
  auto loop = make_loop();
  ASSERT_TRUE(loop);
  Seen seen;
  ASSERT_NO_FATAL_FAILURE(short_read_with_fin(*loop, false, seen));
  EXPECT_EQ(seen.first, 10);
  EXPECT_TRUE(seen.woke) << "the FIN after a short read did not wake the wait";
  EXPECT_EQ(seen.second, 0);
}

}  // namespace
}  // namespace zcnet::test

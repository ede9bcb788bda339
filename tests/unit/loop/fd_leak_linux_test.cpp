// 10,000 connections through an echo server leave no descriptor behind (/proc/self/fd), and
// ASan sees no leak.
#include "loop_test_support.hpp"
#include "zcnet/loop/task_group.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class FdLeakTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(FdLeakTest);

Task<void> echo_once(Loop& l, UniqueFd fd) {
  for (;;) {
    auto b = co_await l.recv(fd.get(), within(30s));
    if (!b || b->eof()) break;
    if (!co_await l.write_all(fd.get(), b->bytes())) break;
  }
  l.close(std::move(fd));
}

Task<bool> ping(Loop& l, std::uint16_t port) {
  auto addr = loopback(port);
  auto fd = co_await l.dial(as_sockaddr(addr), sizeof addr, within(30s));
  if (!fd) co_return false;
  const char msg[] = "0123456789abcdef";
  std::byte back[16];
  bool ok = (co_await l.write_all(fd->get(), std::as_bytes(std::span(msg, 16)))).has_value() &&
            (co_await l.read_exact(fd->get(), back, within(30s))).has_value();
  l.close(std::move(*fd));
  co_return ok;
}

TEST_P(FdLeakTest, TenThousandConnections_NoFdLeft) {
  int before = count_open_fds();
  {
    auto loop = make_loop();
    auto listener = listen_tcp("127.0.0.1", 0).value();
    std::uint16_t port = local_port(listener.get()).value();
    int ok = 0;
    loop->block_on([&](Loop& l) -> Task<void> {
      TaskGroup conns(l);
      CancelSource stop;
      l.spawn([](Loop& lp, int lfd, TaskGroup& g, CancelToken t) -> Task<void> {
        for (;;) {
          const IoOptions io(t);  // named: no temporaries inside co_await
          auto c = co_await lp.accept(lfd, io);
          if (!c) co_return;
          g.spawn(echo_once(lp, std::move(*c)));
        }
      }(l, listener.get(), conns, stop.token()));
      for (int batch = 0; batch < 100; ++batch) {
        TaskGroup clients(l);
        for (int i = 0; i < 100; ++i)
          clients.spawn([](Loop& lp, std::uint16_t p, int& n) -> Task<void> {
            if (co_await ping(lp, p)) ++n;
          }(l, port, ok));
        co_await clients.join();
      }
      stop.cancel();
      co_await conns.join();
    }(*loop));
    EXPECT_EQ(ok, 10000);
    loop->close(std::move(listener));
  }
  EXPECT_EQ(count_open_fds(), before);
}

}  // namespace
}  // namespace zcnet::test

// LoopGroup: one loop per thread, each accepting on its own SO_REUSEPORT listener on one port.
#include "zcnet/loop/loop_group.hpp"

#include <atomic>
#include <thread>

#include "loop_test_support.hpp"
#include "zcnet/loop/task_group.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class LoopGroupTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(LoopGroupTest);

TEST(LoopGroupDefaults, ThreadCountDefaultsToCores) {
  LoopGroup g;
  EXPECT_EQ(g.size(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST_P(LoopGroupTest, ReusePort_TwoLoops_ShareConnectionsAndShutDownGracefully) {
  auto probe = listen_tcp("127.0.0.1", 0, {.reuse_port = true}).value();
  std::uint16_t port = local_port(probe.get()).value();
  probe.reset();
  LoopGroupOptions go;
  go.threads = 2;
  go.loop.backend = GetParam();
  LoopGroup group(go);
  std::atomic<int> listening{0};
  std::atomic<int> served[2] = {0, 0};
  auto started = group.start([&](Loop& l, std::size_t index) -> Task<void> {
    auto listener = listen_tcp("127.0.0.1", port, {.reuse_port = true});
    if (!listener) throw std::runtime_error(listener.error().message());
    ++listening;
    TaskGroup conns(l);
    for (;;) {
      const IoOptions io(l.shutdown_token());  // named: no temporaries inside co_await
      auto c = co_await l.accept(listener->get(), io);
      if (!c) break;
      ++served[index];
      conns.spawn([](Loop& lp, UniqueFd fd) -> Task<void> {
        for (;;) {
          auto b = co_await lp.recv(fd.get());
          if (!b || b->eof()) break;
          if (!co_await lp.write_all(fd.get(), b->bytes())) break;
        }
        lp.close(std::move(fd));
      }(l, std::move(*c)));
    }
    l.close(std::move(*listener));
    co_await conns.shutdown(Clock::now() + 10s);
  });
  ASSERT_TRUE(started) << started.error().message();
  while (listening < 2) std::this_thread::sleep_for(1ms);

  LoopOptions co;
  co.backend = GetParam();
  auto client_loop = Loop::create(co).value();
  int ok = 0;
  client_loop->block_on([&](Loop& l) -> Task<void> {
    TaskGroup clients(l);
    for (int i = 0; i < 200; ++i)
      clients.spawn([](Loop& lp, std::uint16_t p, int& n) -> Task<void> {
        auto addr = loopback(p);
        auto fd = co_await lp.dial(as_sockaddr(addr), sizeof addr, within(30s));
        if (!fd) co_return;
        std::byte msg[64]{};
        std::byte back[64];
        if ((co_await lp.write_all(fd->get(), msg)) &&
            (co_await lp.read_exact(fd->get(), back, within(30s))))
          ++n;
        lp.close(std::move(*fd));
      }(l, port, ok));
    co_await clients.join();
  }(*client_loop));
  group.request_shutdown();
  group.join();
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(served[0] + served[1], 200);
  EXPECT_GT(served[0], 0);
  EXPECT_GT(served[1], 0);
}

}  // namespace
}  // namespace zcnet::test

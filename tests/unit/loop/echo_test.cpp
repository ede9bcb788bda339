// An echo server (accept + recv + write_all) with 1000 concurrent loopback clients on the same
// loop, every byte checked by XXH3 on both ends.
#include <xxhash.h>

#include "loop_test_support.hpp"
#include "support.hpp"
#include "zcnet/loop/task_group.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class EchoTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(EchoTest);

Task<void> echo_connection(Loop& l, UniqueFd fd) {
  for (;;) {
    auto b = co_await l.recv(fd.get());
    if (!b || b->eof()) break;
    if (!co_await l.write_all(fd.get(), b->bytes())) break;
  }
  l.close(std::move(fd));
}

Task<void> echo_server(Loop& l, int listen_fd, TaskGroup& conns, CancelToken stop) {
  for (;;) {
    const IoOptions io(stop);  // named: no temporaries inside co_await
    auto c = co_await l.accept(listen_fd, io);
    if (!c) break;
    conns.spawn(echo_connection(l, std::move(*c)));
  }
}

struct ClientStats {
  int ok = 0;
  int failed = 0;
};

// Sends `bytes` of its own pattern in `chunk`-sized pieces, reading each echo back before the
// next, and compares hashes of what went out and what came back.
Task<void> echo_client(Loop& l, std::uint16_t port, std::size_t bytes, std::size_t chunk,
                       std::uint64_t seed, ClientStats& stats) {
  auto addr = loopback(port);
  auto fd = co_await l.dial(as_sockaddr(addr), sizeof addr, within(60s));
  if (!fd) {
    ADD_FAILURE() << fd.error().message();
    ++stats.failed;
    co_return;
  }
  auto out = pattern(bytes, seed);
  std::vector<std::byte> back(bytes);
  bool ok = true;
  for (std::size_t off = 0; off < bytes && ok; off += chunk) {
    std::size_t n = std::min(chunk, bytes - off);
    ok = (co_await l.write_all(fd->get(), std::span(out).subspan(off, n))).has_value() &&
         (co_await l.read_exact(fd->get(), std::span(back).subspan(off, n), within(60s)))
             .has_value();
  }
  l.close(std::move(*fd));
  if (ok && hash_bytes(out.data(), bytes) == hash_bytes(back.data(), bytes))
    ++stats.ok;
  else
    ++stats.failed;
}

TEST_P(EchoTest, Echo_1000ConcurrentClients_EveryByteComesBack) {
  LoopOptions o;
  o.recv_buffers = 2048;
  auto loop = make_loop(o);
  auto listener = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(listener) << listener.error().message();
  std::uint16_t port = local_port(listener->get()).value();
  ClientStats stats;
  auto main = [&](Loop& l) -> Task<void> {
    TaskGroup conns(l), clients(l);
    CancelSource stop;
    l.spawn(echo_server(l, listener->get(), conns, stop.token()));
    for (int i = 0; i < 1000; ++i)
      clients.spawn(echo_client(l, port, 48 * 1024 + i, 8 * 1024, i + 1, stats));
    EXPECT_TRUE(co_await clients.join(Clock::now() + 90s));
    stop.cancel();
    EXPECT_TRUE(co_await conns.join(Clock::now() + 30s));
  };
  loop->block_on(main(*loop));
  EXPECT_EQ(stats.ok, 1000);
  EXPECT_EQ(stats.failed, 0);
  loop->close(std::move(*listener));
}

TEST_P(EchoTest, Echo_SmallServer_WorksOnEveryBackend) {
  auto loop = make_loop();
  auto listener = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(listener);
  std::uint16_t port = local_port(listener->get()).value();
  ClientStats stats;
  auto main = [&](Loop& l) -> Task<void> {
    TaskGroup conns(l), clients(l);
    CancelSource stop;
    l.spawn(echo_server(l, listener->get(), conns, stop.token()));
    for (int i = 0; i < 20; ++i) clients.spawn(echo_client(l, port, 200'000, 64 * 1024, i, stats));
    co_await clients.join();
    stop.cancel();
    co_await conns.join();
  };
  loop->block_on(main(*loop));
  EXPECT_EQ(stats.ok, 20);
  loop->close(std::move(*listener));
}

}  // namespace
}  // namespace zcnet::test

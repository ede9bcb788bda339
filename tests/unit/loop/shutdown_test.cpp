// Graceful shutdown with transfers in flight: stop accepting, let transfers finish within a
// deadline, cancel what is left, close everything.
#include <sys/socket.h>
#include <xxhash.h>

#include "loop_test_support.hpp"
#include "support.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class ShutdownTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(ShutdownTest);

struct ServerLog {
  int accepted = 0;
  int finished = 0;
  int cancelled = 0;
  int other = 0;
  bool in_time = false;
};

// A file server that runs until loop.shutdown_token() is cancelled, then drains.
Task<void> server(Loop& l, UniqueFd listener, const TempFile& file, Clock::duration grace,
                  ServerLog& log) {
  Engine engine;
  TaskGroup conns(l);
  for (;;) {
    const IoOptions io(l.shutdown_token());  // named: no temporaries inside co_await
    auto c = co_await l.accept(listener.get(), io);
    if (!c) break;
    ++log.accepted;
    conns.spawn([](Loop& lp, Engine& e, UniqueFd fd, const TempFile& f, TaskGroup& g,
                   ServerLog& lg) -> Task<void> {
      Transfer t(e, FileRange{f.fd(), 0, f.size()}, Socket{fd.get()});
      const IoOptions conn_io(g.token());  // named: no temporaries inside co_await
      auto r = co_await transfer(lp, t, conn_io);
      if (r)
        ++lg.finished;
      else if (r.error().code() == ECANCELED)
        ++lg.cancelled;
      else
        ++lg.other;
      ::shutdown(fd.get(), SHUT_WR);
      lp.close(std::move(fd));
    }(l, engine, std::move(*c), file, conns, log));
  }
  l.close(std::move(listener));  // stop accepting first
  log.in_time = co_await conns.shutdown(Clock::now() + grace);
}

// Connects, waits for the first byte, then either reads everything or stalls.
Task<void> client(Loop& l, std::uint16_t port, bool read_all, int& connected,
                  std::uint64_t& exact_hashes, std::uint64_t want, CancelToken stall_end) {
  auto addr = loopback(port);
  auto fd = co_await l.dial(as_sockaddr(addr), sizeof addr, within(30s));
  if (!fd) co_return;
  std::vector<std::byte> buf(64 * 1024);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  auto first = co_await l.read(fd->get(), std::span(buf).first(1), within(30s));
  if (first && *first == 1) {
    XXH3_64bits_update(st, buf.data(), 1);
    ++connected;
    if (read_all) {
      for (;;) {
        auto r = co_await l.read(fd->get(), buf, within(60s));
        if (!r || *r == 0) break;
        XXH3_64bits_update(st, buf.data(), *r);
      }
      if (XXH3_64bits_digest(st) == want) ++exact_hashes;
    } else {
      (void)co_await l.sleep_for(1h, stall_end);  // a silent client
    }
  }
  XXH3_freeState(st);
  l.close(std::move(*fd));
}

void run_case(Loop& loop, bool clients_read, Clock::duration grace, int n, ServerLog& log,
              std::uint64_t& exact) {
  auto file = TempFile::with_pattern(8 << 20, 3);
  auto listener = listen_tcp("127.0.0.1", 0).value();
  std::uint16_t port = local_port(listener.get()).value();
  loop.block_on([&](Loop& l) -> Task<void> {
    int connected = 0;
    CancelSource stall;
    TaskGroup clients(l);
    l.spawn(server(l, std::move(listener), file, grace, log));
    for (int i = 0; i < n; ++i)
      clients.spawn(client(l, port, clients_read, connected, exact, file.hash(), stall.token()));
    while (connected < n) (void)co_await l.sleep_for(5ms);
    l.request_shutdown();  // transfers are in flight now
    while (log.finished + log.cancelled + log.other < n) (void)co_await l.sleep_for(5ms);
    stall.cancel();
    co_await clients.join();
  }(loop));
}

TEST_P(ShutdownTest, Shutdown_ReadingClients_TransfersFinishBeforeDeadline) {
  auto loop = make_loop();
  ServerLog log;
  std::uint64_t exact = 0;
  run_case(*loop, true, 60s, 20, log, exact);
  EXPECT_EQ(log.accepted, 20);
  EXPECT_EQ(log.finished, 20);
  EXPECT_TRUE(log.in_time);
  EXPECT_EQ(exact, 20u);
}

TEST_P(ShutdownTest, Shutdown_StalledClients_TransfersCancelledAtDeadline) {
  auto loop = make_loop();
  ServerLog log;
  std::uint64_t exact = 0;
  auto start = Clock::now();
  run_case(*loop, false, 200ms, 20, log, exact);
  EXPECT_EQ(log.accepted, 20);
  EXPECT_EQ(log.cancelled, 20);
  EXPECT_EQ(log.other, 0);
  EXPECT_FALSE(log.in_time);
  EXPECT_LT(Clock::now() - start, 30s);
}

}  // namespace
}  // namespace zcnet::test

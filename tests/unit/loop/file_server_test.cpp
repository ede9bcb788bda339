// A file-sending server: each of 1000 concurrent loopback clients receives the same 1 MiB file
// through co_await transfer(loop, Transfer&), byte-exact by XXH3.
#include <sys/socket.h>
#include <xxhash.h>

#include "loop_test_support.hpp"
#include "support.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class FileServerTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(FileServerTest);

struct Served {
  int ok = 0;
  int failed = 0;
  std::string first_error;
};

Task<void> send_file(Loop& l, Engine& engine, UniqueFd fd, int file_fd, std::uint64_t size,
                     Served& served) {
  Transfer t(engine, FileRange{file_fd, 0, size}, Socket{fd.get()});
  auto r = co_await transfer(l, t, within(120s));
  if (r && r->bytes == size) {
    ++served.ok;
  } else {
    ++served.failed;
    if (served.first_error.empty())
      served.first_error = r ? "short: " + std::to_string(r->bytes) : r.error().message();
  }
  ::shutdown(fd.get(), SHUT_WR);
  l.close(std::move(fd));
}

Task<void> file_server(Loop& l, Engine& engine, int listen_fd, const TempFile& file,
                       TaskGroup& conns, CancelToken stop, Served& served) {
  for (;;) {
    const IoOptions io(stop);  // named: no temporaries inside co_await
    auto c = co_await l.accept(listen_fd, io);
    if (!c) break;
    conns.spawn(send_file(l, engine, std::move(*c), file.fd(), file.size(), served));
  }
}

struct Received {
  int exact = 0;
  int wrong = 0;
};

Task<void> fetch(Loop& l, std::uint16_t port, std::uint64_t want_hash, std::uint64_t want_bytes,
                 Received& rec) {
  auto addr = loopback(port);
  auto fd = co_await l.dial(as_sockaddr(addr), sizeof addr, within(60s));
  if (!fd) {
    ++rec.wrong;
    co_return;
  }
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::uint64_t got = 0;
  std::vector<std::byte> buf(32 * 1024);
  for (;;) {
    auto r = co_await l.read(fd->get(), buf, within(120s));
    if (!r || *r == 0) break;
    XXH3_64bits_update(st, buf.data(), *r);
    got += *r;
  }
  bool exact = got == want_bytes && XXH3_64bits_digest(st) == want_hash;
  XXH3_freeState(st);
  l.close(std::move(*fd));
  exact ? ++rec.exact : ++rec.wrong;
}

void serve_and_fetch(Loop& loop, int clients, std::size_t file_bytes) {
  Engine engine;
  auto file = TempFile::with_pattern(file_bytes, 7);
  auto listener = listen_tcp("127.0.0.1", 0);
  ASSERT_TRUE(listener);
  std::uint16_t port = local_port(listener->get()).value();
  Served served;
  Received rec;
  auto main = [&](Loop& l) -> Task<void> {
    TaskGroup conns(l), fetchers(l);
    CancelSource stop;
    l.spawn(file_server(l, engine, listener->get(), file, conns, stop.token(), served));
    for (int i = 0; i < clients; ++i) fetchers.spawn(fetch(l, port, file.hash(), file_bytes, rec));
    EXPECT_TRUE(co_await fetchers.join(Clock::now() + 150s));
    stop.cancel();
    EXPECT_TRUE(co_await conns.join(Clock::now() + 30s));
  };
  loop.block_on(main(loop));
  EXPECT_EQ(served.ok, clients) << served.first_error;
  EXPECT_EQ(rec.exact, clients);
  EXPECT_EQ(rec.wrong, 0);
  loop.close(std::move(*listener));
}

TEST_P(FileServerTest, Serve_1000ConcurrentClients_1MiBEach_ByteExact) {
  auto loop = make_loop();
  serve_and_fetch(*loop, 1000, 1 << 20);
}

TEST_P(FileServerTest, Serve_FewClients_SmallAndOddSizedFile) {
  auto loop = make_loop();
  serve_and_fetch(*loop, 10, 300'001);
}

}  // namespace
}  // namespace zcnet::test

// Faults the kernel may produce at any moment, injected by seed into the loop thread while a
// file server and its clients run on it (sys/faults.hpp): EINTR, short reads and writes, EAGAIN
// on a ready socket, and EMFILE or ENFILE from accept, socket and pipe2. None of them is an
// error a transfer may end with, so every client must get the whole file byte-exact, no wait may
// hang (an EAGAIN made up under edge-triggered epoll is the case to catch), accepts pause and
// resume, and no descriptor is left when the seed ends.
// ZCNET_FAULT_SEED=N replays one seed; ZCNET_LOOP_FAULT_SEEDS=N runs seeds 1 to N (default 200).
#include <sys/socket.h>
#include <xxhash.h>

#include <cstdlib>

#include "loop_test_support.hpp"
#include "support.hpp"
#include "sys/faults.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

#if ZCNET_FAULTS

class LoopFaults : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(LoopFaults);

using sys::faults::bit;
// The faults that never end a transfer: each is retried, waited out or worked around.
constexpr std::uint32_t kTransient =
    bit(sys::faults::Fault::Eintr) | bit(sys::faults::Fault::Short) |
    bit(sys::faults::Fault::Eagain) | bit(sys::faults::Fault::Emfile) |
    bit(sys::faults::Fault::Enfile);

struct Tally {
  int served = 0;
  int exact = 0;
  std::string first_error;
};

void note(Tally& t, std::string what) {
  if (t.first_error.empty()) t.first_error = std::move(what);
}

Task<void> send_file(Loop& l, Engine& engine, UniqueFd fd, const TempFile& file, Tally& t) {
  Transfer tr(engine, FileRange{file.fd(), 0, file.size()}, Socket{fd.get()});
  auto r = co_await transfer(l, tr, within(30s));
  if (r && r->bytes == file.size())
    ++t.served;
  else
    note(t, r ? "short: " + std::to_string(r->bytes) : r.error().message());
  ::shutdown(fd.get(), SHUT_WR);
  l.close(std::move(fd));
}

Task<void> file_server(Loop& l, Engine& engine, int listen_fd, const TempFile& file,
                       TaskGroup& conns, CancelToken stop, Tally& t) {
  for (;;) {
    const IoOptions io(stop);                   // named: no temporaries inside co_await
    auto c = co_await l.accept(listen_fd, io);  // pauses itself on EMFILE/ENFILE
    if (!c) break;
    conns.spawn(send_file(l, engine, std::move(*c), file, t));
  }
}

Task<void> fetch(Loop& l, std::uint16_t port, const TempFile& file, Tally& t) {
  auto addr = loopback(port);
  Result<UniqueFd> fd = Error(EMFILE, "socket");
  for (int tries = 0; tries < 100 && !fd; ++tries) {  // as a client does when out of fds
    fd = co_await l.dial(as_sockaddr(addr), sizeof addr, within(30s));
    if (!fd && fd.error().code() != EMFILE && fd.error().code() != ENFILE) break;
  }
  if (!fd) {
    note(t, "dial: " + fd.error().message());
    co_return;
  }
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::uint64_t got = 0;
  std::vector<std::byte> buf(16 * 1024);
  for (;;) {
    auto r = co_await l.read(fd->get(), buf, within(30s));
    if (!r) note(t, "read: " + r.error().message());
    if (!r || *r == 0) break;
    XXH3_64bits_update(st, buf.data(), *r);
    got += *r;
  }
  if (got == file.size() && XXH3_64bits_digest(st) == file.hash())
    ++t.exact;
  else
    note(t, "received " + std::to_string(got) + " bytes, not the file");
  XXH3_freeState(st);
  l.close(std::move(*fd));
}

TEST_P(LoopFaults, EverySeed_TransientFaultsOnTheLoopThread_EveryClientByteExact_NoHangNoLeak) {
  constexpr int kClients = 16;
  LoopOptions o;
  o.accept_pause = 2ms;  // many pauses per seed: keep each short
  auto loop = make_loop(o);
  ASSERT_TRUE(loop);
  const auto file = TempFile::with_pattern(300'001, 11);
  std::uint64_t first = 1, last = 200;
  if (const char* n = std::getenv("ZCNET_LOOP_FAULT_SEEDS")) last = std::strtoull(n, nullptr, 10);
  if (const char* one = std::getenv("ZCNET_FAULT_SEED"))
    first = last = std::strtoull(one, nullptr, 10);
  sys::faults::Counts all;
  const int fds_before = count_open_fds();
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (ZCNET_FAULT_SEED=" + std::to_string(seed) +
                 " replays it)");
    Engine engine;
    auto listener = listen_tcp("127.0.0.1", 0);
    ASSERT_TRUE(listener);
    const std::uint16_t port = local_port(listener->get()).value();
    Tally t;
    bool joined = false;
    {
      const sys::faults::Armed armed({.seed = seed, .one_in = 5, .kinds = kTransient});
      auto main = [&](Loop& l) -> Task<void> {
        TaskGroup conns(l), fetchers(l);
        CancelSource stop;
        l.spawn(file_server(l, engine, listener->get(), file, conns, stop.token(), t));
        for (int i = 0; i < kClients; ++i) fetchers.spawn(fetch(l, port, file, t));
        joined = co_await fetchers.join(Clock::now() + 60s);
        stop.cancel();
        joined = co_await conns.join(Clock::now() + 30s) && joined;
      };
      loop->block_on(main(*loop));
      for (std::size_t i = 0; i < sys::faults::kFaults; ++i)
        all.injected[i] += armed.counts().injected[i];
    }
    loop->close(std::move(*listener));
    ASSERT_TRUE(joined) << "a wait did not end: a hang";
    ASSERT_EQ(t.exact, kClients) << t.first_error;
    ASSERT_EQ(t.served, kClients) << t.first_error;
    ASSERT_EQ(count_open_fds(), fds_before) << "a descriptor left open";
  }
  std::printf(
      "%s: %llu seeds, injected EINTR %llu, short %llu, EAGAIN %llu, EMFILE %llu, "
      "ENFILE %llu\n",
      std::string(to_string(GetParam())).c_str(), static_cast<unsigned long long>(last - first + 1),
      static_cast<unsigned long long>(all.injected[0]),
      static_cast<unsigned long long>(all.injected[1]),
      static_cast<unsigned long long>(all.injected[6]),
      static_cast<unsigned long long>(all.injected[7]),
      static_cast<unsigned long long>(all.injected[8]));
  if (first != last) {  // over the default seeds every kind that can happen here did
    EXPECT_GT(all.injected[6], 0u);
    EXPECT_GT(all.injected[7] + all.injected[8], 0u);
  }
}

#else

TEST(LoopFaults, CompiledIntoTheAsanAndTsanBuildsOnly) {
  GTEST_SKIP() << "fault injection is compiled in with ZCNET_FAULTS (the asan and tsan presets)";
}

#endif

}  // namespace
}  // namespace zcnet::test

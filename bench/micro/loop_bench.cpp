// Loop benchmark: echo over loopback, epoll vs io_uring in the same run, alternating.
//   64 B ping-pong messages and 1 MiB round trips, at 100, 500 and 1000 connections.
// Server loop and client loop each on their own thread, same backend. Reports medians of
// --rounds runs: requests/s, bytes/s (payload echoed back to clients), syscalls per request
// (the loops' own count: waits, submits, ctl, read/send attempts), context switches per GiB
// (getrusage, both threads). Bounded: each 64 B cell runs --seconds, each 1 MiB cell moves
// 1 MiB per connection once.
//
//   loop_bench [--rounds 3] [--seconds 0.5] [--quick]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task_group.hpp"

using namespace zcnet;
using namespace std::chrono_literals;

namespace {

struct Sample {
  double reqs_per_s = 0, bytes_per_s = 0, syscalls_per_req = 0, csw_per_gib = 0;
};

struct Cell {
  std::size_t msg;
  int conns;
};

Task<void> echo_conn(Loop& l, UniqueFd fd) {
  for (;;) {
    auto b = co_await l.recv(fd.get());
    if (!b || b->eof()) break;
    if (!co_await l.write_all(fd.get(), b->bytes())) break;
  }
  l.close(std::move(fd));
}

Task<void> server_main(Loop& l, int listen_fd, std::atomic<bool>& ready) {
  TaskGroup conns(l);
  ready = true;
  for (;;) {
    auto c = co_await l.accept(listen_fd, {l.shutdown_token()});
    if (!c) break;
    conns.spawn(echo_conn(l, std::move(*c)));
  }
  co_await conns.shutdown(Clock::now() + 5s);
}

struct Totals {
  std::uint64_t requests = 0, bytes = 0;
};

Task<void> pinger(Loop& l, int fd, Clock::time_point end, Totals& t) {
  std::byte msg[64]{};
  std::byte back[64];
  while (Clock::now() < end) {
    if (!co_await l.write_all(fd, msg)) co_return;
    if (!co_await l.read_exact(fd, back)) co_return;
    ++t.requests;
    t.bytes += sizeof back;
  }
}

Task<void> mib_writer(Loop& l, int fd, const std::vector<std::byte>& data) {
  (void)co_await l.write_all(fd, data);
}

Task<void> mib_reader(Loop& l, int fd, const std::vector<std::byte>& data, Totals& t) {
  std::vector<std::byte> back(256 * 1024);
  std::size_t got = 0;
  while (got < data.size()) {
    auto r = co_await l.read(fd, back);
    if (!r || *r == 0) co_return;
    got += *r;
  }
  ++t.requests;
  t.bytes += got;
}

Task<void> client_main(Loop& l, std::uint16_t port, Cell cell, double seconds, Totals& t,
                       Clock::duration& elapsed) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<UniqueFd> fds;
  for (int i = 0; i < cell.conns; ++i) {
    auto fd = co_await l.dial(reinterpret_cast<sockaddr*>(&a), sizeof a, within(10s));
    if (!fd) {
      std::fprintf(stderr, "dial: %s\n", fd.error().message().c_str());
      co_return;
    }
    fds.push_back(std::move(*fd));
  }
  std::vector<std::byte> data(cell.msg == 64 ? 0 : cell.msg, std::byte{0x5a});
  TaskGroup g(l);
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (auto& fd : fds) {
    if (cell.msg == 64)
      g.spawn(pinger(l, fd.get(), end, t));
    else {
      g.spawn(mib_writer(l, fd.get(), data));  // write and read at once, or buffers fill up
      g.spawn(mib_reader(l, fd.get(), data, t));
    }
  }
  co_await g.join();
  elapsed = Clock::now() - start;
  for (auto& fd : fds) l.close(std::move(fd));
}

std::uint64_t context_switches() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
}

bool run_one(BackendKind kind, Cell cell, double seconds, Sample& out) {
  LoopOptions o;
  o.backend = kind;
  o.recv_buffers = 4096;
  o.recv_buffer_bytes = cell.msg == 64 ? 4096 : 64 * 1024;
  auto server = Loop::create(o);
  auto client = Loop::create(o);
  if (!server || !client) return false;
  auto listener = listen_tcp("127.0.0.1", 0).value();
  std::uint16_t port = local_port(listener.get()).value();
  std::atomic<bool> ready{false};
  std::thread st([&] { (*server)->block_on(server_main(**server, listener.get(), ready)); });
  while (!ready) std::this_thread::sleep_for(1ms);
  Totals t;
  Clock::duration elapsed{};
  auto csw0 = context_switches();
  (*client)->block_on(client_main(**client, port, cell, seconds, t, elapsed));
  auto csw1 = context_switches();
  (*server)->request_shutdown();
  st.join();
  // Whole-run counts (connection setup included), read after the server thread ended.
  auto sys = (*server)->stats().syscalls + (*client)->stats().syscalls;
  double secs = std::chrono::duration<double>(elapsed).count();
  if (t.requests == 0 || secs <= 0) return false;
  out.reqs_per_s = static_cast<double>(t.requests) / secs;
  out.bytes_per_s = static_cast<double>(t.bytes) / secs;
  out.syscalls_per_req = static_cast<double>(sys) / static_cast<double>(t.requests);
  out.csw_per_gib = static_cast<double>(csw1 - csw0) / (static_cast<double>(t.bytes) / (1 << 30));
  (*server)->close(std::move(listener));
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  double seconds = 0.5;
  std::vector<Cell> cells{{64, 100},      {64, 500},      {64, 1000},
                          {1 << 20, 100}, {1 << 20, 500}, {1 << 20, 1000}};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick"))
      cells = {{64, 100}, {1 << 20, 100}};
  }
  std::vector<BackendKind> kinds{BackendKind::Epoll};
  if (uring_backend_available())
    kinds.push_back(BackendKind::Uring);
  else
    std::fprintf(stderr, "io_uring not available: epoll only\n");

  std::printf("| msg | conns | backend | req/s | MB/s | syscalls/req | ctx switches/GiB |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (Cell cell : cells) {
    std::vector<std::vector<Sample>> samples(kinds.size());
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t k = 0; k < kinds.size(); ++k) {  // alternate backends within a round
        Sample s;
        if (run_one(kinds[k], cell, seconds, s)) samples[k].push_back(s);
      }
    }
    std::vector<double> rps(kinds.size());
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      auto pick = [&](auto f) {
        std::vector<double> v;
        for (auto& s : samples[k]) v.push_back(f(s));
        return median(v);
      };
      rps[k] = pick([](const Sample& s) { return s.reqs_per_s; });
      std::printf("| %s | %d | %s | %.0f | %.1f | %.2f | %.0f |\n",
                  cell.msg == 64 ? "64 B" : "1 MiB", cell.conns,
                  std::string(to_string(kinds[k])).c_str(), rps[k],
                  pick([](const Sample& s) { return s.bytes_per_s; }) / 1e6,
                  pick([](const Sample& s) { return s.syscalls_per_req; }),
                  pick([](const Sample& s) { return s.csw_per_gib; }));
    }
    if (kinds.size() == 2 && rps[0] > 0)
      std::printf("| %s | %d | uring/epoll | %.2fx | | | |\n", cell.msg == 64 ? "64 B" : "1 MiB",
                  cell.conns, rps[1] / rps[0]);
    std::fflush(stdout);
  }
  return 0;
}

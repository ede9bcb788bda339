// Each strategy sending a page-cached file to a loopback socket, with the receiver on the other
// core. Reports bytes/s and CPU seconds per GiB for the sender and the receiver separately.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "zcnet/transfer/transfer.hpp"

namespace {

using namespace zcnet;

double cpu_seconds(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// A page-cached temp file of `size` bytes, unlinked at once (the fd keeps it).
UniqueFd make_file(std::size_t size) {
  std::string path = "/tmp/zcnet-bench-XXXXXX";
  UniqueFd fd(::mkstemp(path.data()));
  ::unlink(path.c_str());
  std::vector<char> chunk(1 << 20);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 131 + 7);
  for (std::size_t done = 0; done < size;) {
    std::size_t n = std::min(chunk.size(), size - done);
    if (::pwrite(fd.get(), chunk.data(), n, static_cast<off_t>(done)) < 0) std::abort();
    done += n;
  }
  return fd;
}

std::pair<UniqueFd, UniqueFd> loopback_pair() {
  UniqueFd l(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(l.get(), 1);
  socklen_t len = sizeof a;
  ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
  UniqueFd c(::socket(AF_INET, SOCK_STREAM, 0));
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  UniqueFd s(::accept(l.get(), nullptr, nullptr));
  return {std::move(c), std::move(s)};
}

void BM_FileToSocket(benchmark::State& state, StrategyKind kind) {
  const auto size = static_cast<std::size_t>(state.range(0));
  if (!allows(Capabilities::probe(), kind)) {
    state.SkipWithError("not supported by this kernel");
    return;
  }
  UniqueFd file = make_file(size);
  auto [tx, rx] = loopback_pair();
  std::atomic<double> rx_cpu{0};
  std::atomic<std::uint64_t> rx_bytes{0};
  std::thread receiver([fd = rx.get(), &rx_cpu, &rx_bytes] {
    pin_to_cpu(1);
    double c0 = cpu_seconds(RUSAGE_THREAD);
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;)
      total += static_cast<std::uint64_t>(n);
    rx_bytes = total;
    rx_cpu = cpu_seconds(RUSAGE_THREAD) - c0;
  });
  pin_to_cpu(0);
  Engine engine;
  TransferOptions opts;
  opts.strategy = kind;
  opts.allow_fallback = false;
  std::uint64_t sent = 0;
  // Sender CPU = the whole process minus the receiver thread, so io_uring's kernel workers
  // (iou-wrk threads, part of this process) are charged to the sender that caused them.
  double c0 = cpu_seconds(RUSAGE_SELF);
  for (auto _ : state) {
    Transfer t(engine, FileRange{file.get()}, Socket{tx.get()}, opts);
    auto r = run_blocking(t);
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
    sent += r->bytes;
  }
  ::shutdown(tx.get(), SHUT_WR);
  receiver.join();
  double tx_cpu = cpu_seconds(RUSAGE_SELF) - c0 - rx_cpu;
  const double gib = static_cast<double>(sent) / (1u << 30);
  state.SetBytesProcessed(static_cast<std::int64_t>(sent));
  state.counters["tx_cpu_s_per_GiB"] = gib > 0 ? tx_cpu / gib : 0;
  state.counters["rx_cpu_s_per_GiB"] = gib > 0 ? rx_cpu / gib : 0;
  if (rx_bytes != sent) state.SkipWithError("receiver count differs from bytes sent");
}

void register_all() {
  const StrategyKind kinds[] = {StrategyKind::ReadWrite,   StrategyKind::Mmap,
                                StrategyKind::Sendfile,    StrategyKind::Splice,
                                StrategyKind::MsgZerocopy, StrategyKind::UringSend,
                                StrategyKind::UringSendZc, StrategyKind::UringSplice};
  for (StrategyKind k : kinds) {
    std::string name = "FileToSocket/" + std::string(to_string(k));
    benchmark::RegisterBenchmark(name.c_str(), BM_FileToSocket, k)
        ->Arg(4 << 10)
        ->Arg(64 << 10)
        ->Arg(256 << 10)
        ->Arg(1 << 20)
        ->Arg(16 << 20)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

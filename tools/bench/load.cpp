// `zcnet load`: N persistent connections on one event loop (one coroutine each, not a thread),
// each repeating "send an 8-byte length, read exactly that many bytes" (load.hpp) for a duration
// or a request count. Counts complete responses only; a short response or an early close is an
// error, reported and reflected in the exit status, never a hang (every wait has a deadline).
#include "bench/load.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "report.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/observe/histogram.hpp"

namespace zcnet::cli {

namespace {

bool is_loopback(const Address& a) {
  if (a.addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a.addr);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  if (a.addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a.addr).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&in6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

Result<std::vector<Address>> resolve_loopback(const std::string& host_port) {
  auto all = resolve(host_port);
  if (!all) return std::move(all).error();
  for (const Address& a : *all)
    if (!is_loopback(a))
      return Error(EADDRNOTAVAIL, "connect",
                   host_port + ": not a loopback address (load runs on this machine only)");
  return all;
}

Result<std::uint64_t> ensure_fds_for(std::uint64_t connections, std::uint64_t per_connection,
                                     std::uint64_t reserve, const char* who) {
  auto limit = raise_nofile_limit();
  if (!limit) return std::move(limit).error();
  const std::uint64_t need = connections * per_connection + reserve;
  if (need > *limit) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    return Error(EMFILE, who,
                 fmt::format("{} connections need about {} file descriptors, but the open-file "
                             "limit (RLIMIT_NOFILE, hard limit {}) allows {}; lower the "
                             "concurrency or raise the limit (ulimit -Hn)",
                             connections, need, static_cast<std::uint64_t>(rl.rlim_max), *limit));
  }
  return *limit;
}

namespace {

using namespace std::chrono_literals;

struct LoadArgs {
  std::string connect, backend = kDefaultLoadBackend, size_text, read_size_text = "256K";
  unsigned connections = 1;
  double duration = 0;
  std::uint64_t requests = 0;
  double grace = 5;
  double timeout = 30;
  bool json = false;
};

// Shared by every connection; only the loop's thread touches it.
struct LoadState {
  Loop& loop;
  const LoadArgs& args;
  std::uint64_t size = 0;
  const std::vector<Address>& peers;
  Clock::time_point stop_issuing;  // duration mode: no new request after this
  IoOptions io;                    // hard deadline for every wait
  std::uint64_t issued = 0, transfers = 0, bytes = 0, errors = 0, cut = 0;
  Clock::time_point last_done;
  std::string first_error;
  Histogram latency;  // ns per transfer, request written to last byte read
  // Responses are read and dropped: one scratch buffer for every connection. Concurrent io_uring
  // reads may land in it at once, which is harmless because nobody reads what it holds.
  std::vector<std::byte> scratch;
};

bool more_requests(LoadState& s) {
  if (s.args.requests > 0) {
    if (s.issued >= s.args.requests) return false;
    ++s.issued;
    return true;
  }
  return Clock::now() < s.stop_issuing;
}

void note_error(LoadState& s, const Error& e) {
  // The hard deadline of a duration run cuts what is still in flight: that is the end of the
  // run, not a failure of the server.
  if (e.code() == ETIMEDOUT && s.args.requests == 0 && Clock::now() >= s.stop_issuing) {
    ++s.cut;
    return;
  }
  ++s.errors;
  if (s.first_error.empty()) s.first_error = e.message();
}

// One exchange: the request, then exactly `size` bytes.
Task<Result<void>> exchange(LoadState& s, int fd, const std::array<std::byte, 8>& request) {
  auto w = co_await s.loop.write_all(fd, request, s.io);
  if (!w) co_return std::move(w).error();
  std::uint64_t left = s.size;
  while (left > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(left, s.scratch.size()));
    auto n = co_await s.loop.read(fd, std::span(s.scratch).first(want), s.io);
    if (!n) co_return std::move(n).error();
    if (*n == 0)
      co_return Error(ECONNRESET, "load",
                      fmt::format("{}: short response, the server closed after {} of {} B",
                                  s.args.connect, s.size - left, s.size));
    left -= *n;
  }
  co_return Result<void>{};
}

Task<void> run_connection(LoadState& s) {
  auto dialed = co_await dial_any(s.loop, s.peers, s.args.connect, s.io);
  if (!dialed) {
    note_error(s, dialed.error());
    co_return;
  }
  UniqueFd fd = std::move(*dialed);
  const auto request = encode_load_request(s.size);
  while (more_requests(s)) {
    const auto t0 = Clock::now();
    auto r = co_await exchange(s, fd.get(), request);
    if (!r) {
      note_error(s, r.error());
      break;
    }
    s.last_done = Clock::now();
    s.latency.record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(s.last_done - t0).count()));
    ++s.transfers;
    s.bytes += s.size;
  }
  s.loop.close(std::move(fd));
}

Task<void> run_all(LoadState& s) {
  TaskGroup group(s.loop);
  for (unsigned i = 0; i < s.args.connections; ++i) group.spawn(run_connection(s));
  co_await group.join();
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

void run_load(const LoadArgs& a) {
  if ((a.duration > 0) == (a.requests > 0))
    throw std::runtime_error("give exactly one of --duration SECONDS and --requests COUNT");
  const std::uint64_t size = parse_size(a.size_text);
  if (size == 0) throw std::runtime_error("--size must be at least 1 byte");
  const std::vector<Address> peers = check(resolve_loopback(a.connect));
  (void)check(ensure_fds_for(a.connections, 1, 64, "load"));
  std::unique_ptr<Loop> loop = create_loop(a.backend);

  const std::uint64_t read_size = parse_size(a.read_size_text);
  if (read_size == 0 || read_size > (std::uint64_t{1} << 30))
    throw std::runtime_error("--read-size must be 1 byte to 1 GiB");
  LoadState s{*loop, a, size, peers, {}, {}};
  s.scratch.resize(static_cast<std::size_t>(read_size));
  const Usage u0 = Usage::now();
  const auto t0 = Clock::now();
  s.last_done = t0;
  // Duration mode: requests start until `duration`, what is in flight then may finish within
  // `grace`; a request count is bounded by --timeout instead.
  s.stop_issuing = a.requests > 0 ? Clock::time_point::max() : t0 + seconds(a.duration);
  s.io = IoOptions(a.requests > 0 ? t0 + seconds(a.timeout) : s.stop_issuing + seconds(a.grace));
  loop->block_on(run_all(s));
  const Usage u = Usage::now().since(u0);
  const double elapsed = std::chrono::duration<double>(std::max(s.last_done, t0) - t0).count();
  const double rate = elapsed > 0 ? static_cast<double>(s.bytes) / elapsed : 0;

  if (a.json) {
    nlohmann::json j{{"connections", a.connections},
                     {"size", size},
                     {"transfers", s.transfers},
                     {"bytes", s.bytes},
                     {"elapsed_s", elapsed},
                     {"throughput_bytes_per_s", rate},
                     {"transfers_per_s", elapsed > 0 ? s.transfers / elapsed : 0.0},
                     {"latency_ns",
                      {{"p50", s.latency.percentile(50)},
                       {"p99", s.latency.percentile(99)},
                       {"p999", s.latency.percentile(99.9)},
                       {"max", s.latency.max()},
                       {"mean", s.latency.mean()}}},
                     {"cpu_user_s", u.user},
                     {"cpu_sys_s", u.sys},
                     {"voluntary_ctx", u.voluntary_switches},
                     {"involuntary_ctx", u.involuntary_switches},
                     {"errors", s.errors},
                     {"cut", s.cut},
                     {"backend", to_string(loop->backend())}};
    if (!s.first_error.empty()) j["error"] = s.first_error;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("load: {} transfers of {} over {} connections in {:.3f} s = {:.2f} GB/s, {:.0f}/s\n",
               s.transfers, format_size(size), a.connections, elapsed, rate / 1e9,
               elapsed > 0 ? s.transfers / elapsed : 0.0);
    fmt::print("  latency p50 {:.3f} ms, p99 {:.3f} ms, p99.9 {:.3f} ms, max {:.3f} ms\n",
               s.latency.percentile(50) / 1e6, s.latency.percentile(99) / 1e6,
               s.latency.percentile(99.9) / 1e6, static_cast<double>(s.latency.max()) / 1e6);
    fmt::print(
        "  CPU user {:.3f} s sys {:.3f} s, context switches {} + {} involuntary, "
        "errors {}, cut at the deadline {}\n",
        u.user, u.sys, u.voluntary_switches, u.involuntary_switches, s.errors, s.cut);
  }
  std::fflush(stdout);
  if (s.errors > 0)
    throw std::runtime_error(
        fmt::format("load: {} connection(s) failed; first: {}", s.errors, s.first_error));
  if (s.transfers == 0) throw std::runtime_error("load: no transfer completed");
}

}  // namespace

void add_load(CLI::App& app) {
  auto a = std::make_shared<LoadArgs>();
  auto* cmd = app.add_subcommand(
      "load", "loopback load generator: N connections, each asking for --size bytes per request");
  cmd->add_option("--connect", a->connect, "HOST:PORT of the server (loopback only)")->required();
  cmd->add_option("--connections,-c", a->connections, "persistent connections (default 1)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--size", a->size_text, "bytes asked for per request (4096, 64K, 1M ...)")
      ->required();
  cmd->add_option("--duration", a->duration, "seconds to keep issuing requests")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--requests", a->requests, "requests in total over all connections");
  cmd->add_option("--grace", a->grace,
                  "duration mode: seconds in-flight responses may take after the duration "
                  "(then they are cut and not counted; default 5)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", a->timeout,
                  "--requests mode: seconds the whole run may take (default 30)")
      ->check(CLI::PositiveNumber);
  add_backend_option(cmd, a->backend);  // default: kDefaultLoadBackend
  cmd->add_option("--read-size", a->read_size_text,
                  "bytes asked for per read of a response (default 256K; wrk reads 8K)");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a] { run_load(*a); });
}

}  // namespace zcnet::cli

// `zcnet load`: N persistent connections on one event loop (one coroutine each, not a thread),
// each repeating "send an 8-byte length, read exactly that many bytes" (load.hpp), or with --http
// a keep-alive GET (load_http.cpp), for a duration or a request count. --idle adds connections
// that are held open and send one request per interval (load_idle.cpp). Counts complete
// responses only; a short response or an early close is an error, reported and reflected in the
// exit status, never a hang (every wait has a deadline).
#include "bench/load.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "bench/load_run.hpp"

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

// One exchange of the length protocol: the request, then exactly `size` bytes.
Task<Result<void>> exchange(LoadState& s, int fd, const std::string& request, std::uint64_t size) {
  auto w = co_await s.loop.write_all(fd, std::as_bytes(std::span(request)), s.io);
  if (!w) co_return std::move(w).error();
  std::uint64_t left = size;
  while (left > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(left, s.scratch.size()));
    auto n = co_await s.loop.read(fd, std::span(s.scratch).first(want), s.io);
    if (!n) co_return std::move(n).error();
    if (*n == 0)
      co_return Error(ECONNRESET, "load",
                      fmt::format("{}: short response, the server closed after {} of {} B",
                                  s.args.connect, size - left, size));
    left -= *n;
  }
  co_return Result<void>{};
}

// One exchange of either protocol: the body bytes, or an error (a non-2xx HTTP status is one).
Task<Result<std::uint64_t>> active_exchange(LoadState& s, int fd) {
  if (!s.active_request.http) {
    auto r = co_await exchange(s, fd, s.active_request.bytes, s.active_request.size);
    if (!r) co_return std::move(r).error();
    co_return s.active_request.size;
  }
  auto r = co_await http_exchange(s, fd, s.active_request.bytes, s.io);
  if (!r) co_return std::move(r).error();
  if (r->status < 200 || r->status > 299) {
    ++s.non_2xx;
    co_return Error(
        EPROTO, "load",
        fmt::format("{}: GET {}: status {}", s.args.connect, s.args.http_path, r->status));
  }
  if (s.transfers == 0) s.first_size = r->body_bytes;
  co_return r->body_bytes;
}

Task<void> run_connection(LoadState& s) {
  auto dialed = co_await open_connection(s, s.io);
  if (!dialed) {
    note_error(s, dialed.error());
    co_return;
  }
  UniqueFd fd = std::move(*dialed);
  while (more_requests(s)) {
    const auto t0 = Clock::now();
    auto r = co_await active_exchange(s, fd.get());
    if (!r) {
      note_error(s, r.error());
      break;
    }
    s.last_done = Clock::now();
    s.latency.record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(s.last_done - t0).count()));
    ++s.transfers;
    s.bytes += *r;
  }
  s.loop.close(std::move(fd));
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// At `hold_end`: what is held then is counted and sampled, and the idle connections stop.
Task<void> end_hold(LoadState& s, Clock::time_point hold_end) {
  auto held = co_await s.loop.sleep_until(hold_end);
  (void)held;  // no token: it cannot be cancelled
  s.idle.held_at_end = s.idle.open;
  const ProcessPeak now = process_now();  // while everything is still held
  s.peak.fds = std::max(s.peak.fds, now.fds);
  s.peak.rss_bytes = std::max(s.peak.rss_bytes, now.rss_bytes);
  s.idle_stop.cancel();
}

// The idle connections ramp up first; the active clients start once every idle connection has
// connected or failed, so they run while all of them are held. The hold starts then too.
Task<void> run_all(LoadState& s) {
  TaskGroup idle(s.loop), active(s.loop), sampler(s.loop);
  sampler.spawn(sample_process(s, sampler.token()));
  if (s.args.idle > 0) co_await ramp_idle(s, idle);
  const auto start = Clock::now();
  const double hold = s.args.hold > 0 ? s.args.hold : s.args.duration;
  const auto hold_end = start + seconds(hold);
  s.idle_deadline = hold_end + seconds(s.args.grace);
  s.active_start = s.last_done = start;
  // Duration mode: requests start until `duration`, what is in flight then may finish within
  // `grace`; a request count is bounded by --timeout instead.
  if (s.args.requests == 0) s.stop_issuing = start + seconds(s.args.duration);
  s.io = IoOptions(s.args.requests > 0 ? start + seconds(s.args.timeout)
                                       : s.stop_issuing + seconds(s.args.grace));
  if (s.args.idle > 0) idle.spawn(end_hold(s, hold_end));
  for (unsigned i = 0; i < s.args.connections; ++i) active.spawn(run_connection(s));
  co_await active.join();
  co_await idle.join();
  sampler.cancel();
  co_await sampler.join();
}

Request make_request(const LoadArgs& a, const std::string& path, std::uint64_t size) {
  if (!path.empty()) {
    const std::size_t colon = a.connect.rfind(':');
    return {http_get(path, a.connect.substr(0, colon)), 0, true};
  }
  const auto encoded = encode_load_request(size);
  return {std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size()), size, false};
}

void check_args(const LoadArgs& a) {
  if ((a.duration > 0) == (a.requests > 0))
    throw std::runtime_error("give exactly one of --duration SECONDS and --requests COUNT");
  if (a.http_path.empty() && a.size_text.empty())
    throw std::runtime_error("give --size SIZE (length protocol) or --http PATH");
  if (!a.http_path.empty() && !a.size_text.empty())
    throw std::runtime_error("--size is for the length protocol; --http reads Content-Length");
  for (const std::string* p : {&a.http_path, &a.idle_path})
    if (!p->empty() && p->front() != '/')
      throw std::runtime_error(fmt::format("HTTP path '{}' must start with '/'", *p));
  if (!a.idle_path.empty() && a.http_path.empty())
    throw std::runtime_error("--idle-path needs --http");
  if (a.connections == 0 && a.idle == 0)
    throw std::runtime_error("--connections 0 needs --idle N: there would be nothing to run");
  if (a.idle > 0 && a.requests > 0 && a.hold == 0)
    throw std::runtime_error("--idle with --requests needs --hold SECONDS (how long to hold)");
}

void run_load(const LoadArgs& a) {
  check_args(a);
  const std::uint64_t size = a.http_path.empty() ? parse_size(a.size_text) : 0;
  if (a.http_path.empty() && size == 0) throw std::runtime_error("--size must be at least 1 byte");
  const std::vector<Address> peers = check(resolve_loopback(a.connect));
  const std::vector<sockaddr_in> sources =
      a.source_text.empty() ? std::vector<sockaddr_in>{} : parse_sources(a.source_text);
  (void)check(ensure_fds_for(std::uint64_t{a.connections} + a.idle, 1, 64, "load"));
  std::unique_ptr<Loop> loop = create_loop(a.backend);

  const std::uint64_t read_size = parse_size(a.read_size_text);
  if (read_size == 0 || read_size > (std::uint64_t{1} << 30))
    throw std::runtime_error("--read-size must be 1 byte to 1 GiB");
  LoadState s{*loop, a, peers, sources};
  s.active_request = make_request(a, a.http_path, size);
  s.idle_request = make_request(a, a.idle_path.empty() ? a.http_path : a.idle_path, 1);
  s.scratch.resize(static_cast<std::size_t>(read_size));
  const Usage u0 = Usage::now();
  s.t0 = Clock::now();
  loop->block_on(run_all(s));
  const Usage u = Usage::now().since(u0);
  const double elapsed =
      std::chrono::duration<double>(std::max(s.last_done, s.active_start) - s.active_start).count();
  print_report(s, u, elapsed);
  std::fflush(stdout);
  if (s.errors > 0)
    throw std::runtime_error(fmt::format("load: {} error(s) on the active connections; first: {}",
                                         s.errors, s.first_error));
  if (s.connects.failed > 0)
    throw std::runtime_error(fmt::format("load: {} connection attempt(s) failed; first: {}",
                                         s.connects.failed, s.connects.first_failure));
  if (s.idle.unanswered > 0)
    throw std::runtime_error(fmt::format("load: {} idle request(s) unanswered; first: {}",
                                         s.idle.unanswered, s.idle.first_failure));
  if (a.connections > 0 && s.transfers == 0)
    throw std::runtime_error("load: no transfer completed");
}

}  // namespace

void add_load(CLI::App& app) {
  auto a = std::make_shared<LoadArgs>();
  auto* cmd = app.add_subcommand(
      "load",
      "loopback load generator: N connections, each asking for --size bytes (or GET --http PATH) "
      "per request, plus --idle connections held open");
  cmd->add_option("--connect", a->connect, "HOST:PORT of the server (loopback only)")->required();
  cmd->add_option("--connections,-c", a->connections,
                  "persistent active connections (default 1; 0 only with --idle)")
      ->check(CLI::Range(0u, 100000u));
  cmd->add_option("--size", a->size_text,
                  "bytes asked for per request (4096, 64K, 1M ...); length protocol only");
  cmd->add_option("--http", a->http_path,
                  "speak HTTP/1.1: GET PATH with keep-alive; non-2xx answers count as errors");
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
  cmd->add_option("--idle", a->idle,
                  "connections held open besides the active ones, each sending one request "
                  "per --idle-interval")
      ->check(CLI::Range(0u, 1000000u));
  cmd->add_option("--idle-interval", a->idle_interval,
                  "seconds between two requests of one idle connection (default 10)")
      ->check(CLI::Range(0.001, 3600.0));
  cmd->add_option("--idle-path", a->idle_path, "path the idle connections GET (default: --http)");
  cmd->add_option("--hold", a->hold,
                  "seconds the idle connections are held after the ramp (default: --duration)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--connect-rate", a->connect_rate,
                  "new idle connections per second while ramping (default 0: as fast as "
                  "possible, at most 512 connecting at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--connect-timeout", a->connect_timeout,
                  "seconds one idle connection's connect may take (default 10)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--source", a->source_text,
                  "local addresses to bind, round-robin: ADDR[,ADDR...] or a range like "
                  "127.0.0.2-127.0.0.50 (loopback IPv4)");
  add_backend_option(cmd, a->backend);  // default: kDefaultLoadBackend
  cmd->add_option("--read-size", a->read_size_text,
                  "bytes asked for per read of a response (default 256K; wrk reads 8K)");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a] { run_load(*a); });
}

}  // namespace zcnet::cli

// `zcnet load --idle N`: N connections held open, each sending one request per --idle-interval.
// Connection i sends at phase i/N of the interval (from the start of the run), so the requests of
// all of them are spread evenly over the interval, whatever order they connected in. Each costs a
// coroutine frame and a socket; responses are read into the run's one scratch buffer.
#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "bench/load_run.hpp"

namespace zcnet::cli {

namespace {

// Connection attempts in flight at once during the ramp, whatever the rate: more only overflows
// the server's SYN and accept queues, which turns into retransmitted SYNs (1 s, 3 s, ...).
constexpr std::uint64_t kMaxConnecting = 512;

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::uint64_t ns_since(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

// One idle request: an HTTP GET of --idle-path, or a 1-byte length request.
Task<Result<void>> idle_exchange(LoadState& s, int fd, const IoOptions& io) {
  if (s.idle_request.http) {
    auto r = co_await http_exchange(s, fd, s.idle_request.bytes, io);
    if (!r) co_return std::move(r).error();
    if (r->status < 200 || r->status > 299)
      co_return Error(EPROTO, "load", fmt::format("{}: status {}", s.args.connect, r->status));
    co_return Result<void>{};
  }
  auto w = co_await s.loop.write_all(fd, std::as_bytes(std::span(s.idle_request.bytes)), io);
  if (!w) co_return std::move(w).error();
  std::array<std::byte, 1> one{};  // a byte of its own: concurrent io_uring reads may not share
  auto r = co_await s.loop.read_exact(fd, one, io);
  if (!r) co_return std::move(r).error();
  co_return Result<void>{};
}

void note_unanswered(LoadState& s, const Error& e) {
  ++s.idle.unanswered;
  ++s.idle.failures[std::string(e.errno_name())];
  if (s.idle.first_failure.empty()) s.idle.first_failure = e.message();
}

Task<void> run_idle(LoadState& s, std::uint64_t index) {
  const IoOptions connect_io(Clock::now() + to_duration(s.args.connect_timeout));
  auto dialed = co_await open_connection(s, connect_io);
  --s.connecting;
  if (!dialed) co_return;
  UniqueFd fd = std::move(*dialed);
  ++s.idle.established;
  ++s.idle.open;
  const Clock::duration interval = to_duration(s.args.idle_interval);
  const Clock::time_point phase =
      s.t0 + interval * static_cast<std::int64_t>(index) / static_cast<std::int64_t>(s.args.idle);
  // The first slot of this connection's phase after it connected.
  Clock::time_point next = phase;
  if (const auto now = Clock::now(); next <= now) next += ((now - next) / interval + 1) * interval;
  const CancelToken stop = s.idle_stop.token();
  for (;;) {
    auto slept = co_await s.loop.sleep_until(next, stop);
    if (!slept) break;  // the hold is over
    ++s.idle.sent;
    const auto sent = Clock::now();
    // Unanswered: no response within one interval, or by the end of the run.
    const IoOptions io(std::min(sent + interval, s.idle_deadline));
    auto r = co_await idle_exchange(s, fd.get(), io);
    if (!r) {
      note_unanswered(s, r.error());
      ++s.idle.lost;
      break;
    }
    ++s.idle.answered;
    s.idle.latency.record(ns_since(sent));
    next += interval;
    if (const auto now = Clock::now(); next <= now)  // late: skip the slots already past
      next += ((now - next) / interval + 1) * interval;
  }
  --s.idle.open;
  s.loop.close(std::move(fd));
}

std::uint64_t open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // not the directory's own fd
}

std::uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

ProcessPeak process_now() {
  return {open_fds(), rss_bytes()};
}

Task<void> ramp_idle(LoadState& s, TaskGroup& group) {
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < s.args.idle; ++i) {
    if (s.args.connect_rate > 0) {
      const auto at = start + to_duration(static_cast<double>(i) / s.args.connect_rate);
      auto slept = co_await s.loop.sleep_until(at);
      (void)slept;  // no token: it cannot be cancelled
    }
    while (s.connecting >= kMaxConnecting) {
      auto slept = co_await s.loop.sleep_for(std::chrono::milliseconds(1));
      (void)slept;
    }
    ++s.connecting;
    group.spawn(run_idle(s, i));
  }
  while (s.connecting > 0) {  // every attempt settled: connected or failed
    auto slept = co_await s.loop.sleep_for(std::chrono::milliseconds(2));
    (void)slept;
  }
  s.ramp_seconds = std::chrono::duration<double>(Clock::now() - start).count();
}

Task<void> sample_process(LoadState& s, CancelToken stop) {
  for (;;) {
    const ProcessPeak now = process_now();
    s.peak.fds = std::max(s.peak.fds, now.fds);
    s.peak.rss_bytes = std::max(s.peak.rss_bytes, now.rss_bytes);
    auto slept = co_await s.loop.sleep_for(std::chrono::milliseconds(500), stop);
    if (!slept) co_return;
  }
}

}  // namespace zcnet::cli

#include "doctor_limits.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sizes.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/pool/mapping_cache.hpp"
#include "zcnet/proxy/proxy.hpp"

namespace zcnet::cli::doctor {

namespace {

using u64 = std::uint64_t;

constexpr u64 kFdHeadroomMin = 1024;
constexpr u64 kProcessMappings = 1024;  // libraries, thread stacks, pool slabs, rings, arenas
constexpr u64 kDefaultPipePages = 16;   // a pipe's default 64 KiB
constexpr u64 kMinPipePages = 2;        // what a pipe gets past pipe-user-pages-soft
constexpr u64 kPipeDefaultBytes = 64 * 1024;
constexpr u64 kNetdevBacklogDefault = 1000;
constexpr u64 kNetdevBacklogBusy = 16384;
constexpr u64 kWidestPortLow = 1024;
constexpr u64 kWidestPortHigh = 65535;

u64 ceil_div(u64 a, u64 b) {
  return b == 0 ? 0 : a / b + (a % b != 0);
}

// Negative sysctl values (none of those checked is meant to be) count as 0.
u64 number(const Reading& r, std::size_t i = 0) {
  return i < r.numbers.size() && r.numbers[i] > 0 ? static_cast<u64>(r.numbers[i]) : 0;
}

Check rlimit_check(std::string_view name, u64 current, u64 wanted) {
  Check c;
  c.name = std::string(name);
  c.current = current;
  c.wanted = wanted;
  return c;
}

std::string sysctl_set(std::string_view key, u64 value) {
  return fmt::format("sysctl -w {}={}", key, value);
}

std::string sysctl_set(std::string_view key, const std::vector<u64>& values) {
  return fmt::format("sysctl -w {}=\"{}\"", key, fmt::join(values, " "));
}

// A sysctl check with its current value filled in, or a warn that says it could not be read.
// Returns false when unavailable: the caller then has nothing to judge.
bool start(Check& c, std::string_view key, const Reading& r, std::size_t arity = 1) {
  c.name = c.sysctl = std::string(key);
  if (!r.unavailable.empty() || r.numbers.size() < arity) {
    c.verdict = Verdict::Warn;
    c.current = nullptr;
    c.unavailable =
        r.unavailable.empty() ? fmt::format("expected {} numbers", arity) : r.unavailable;
    c.why = fmt::format("{} could not be read here, so it cannot be checked", key);
    return false;
  }
  if (arity == 1) {
    c.current = r.numbers[0];
  } else {
    c.current = r.numbers;
  }
  return true;
}

// A single-number sysctl that must reach `wanted`: fail below `fail_below`, warn below `wanted`.
Check at_least(std::string_view key, const Reading& r, u64 wanted, u64 fail_below,
               std::string why_ok, std::string why_warn, std::string why_fail) {
  Check c;
  c.wanted = wanted;
  if (!start(c, key, r)) return c;
  const u64 v = number(r);
  if (v >= wanted) {
    c.why = std::move(why_ok);
    return c;
  }
  c.verdict = v < fail_below ? Verdict::Fail : Verdict::Warn;
  c.why = c.verdict == Verdict::Fail ? std::move(why_fail) : std::move(why_warn);
  c.fix = {sysctl_set(key, wanted)};
  return c;
}

std::string limit_text(u64 v) {
  return v == kUnlimited ? "unlimited" : std::to_string(v);
}

std::vector<std::string> nofile_fix(u64 fds, const LimitInputs& in) {
  std::vector<std::string> fix;
  if (in.nr_open.unavailable.empty() && number(in.nr_open) < fds)
    fix.push_back(sysctl_set("fs.nr_open", fds));
  fix.push_back(fmt::format("ulimit -n {}", fds));
  fix.push_back(fmt::format("LimitNOFILE={}", fds));
  return fix;
}

Check nofile_soft(const LimitInputs& in) {
  const u64 n = in.connections, fds = fds_needed(n);
  const Rlimit l = in.nofile;
  Check c = rlimit_check("rlimit_nofile_soft", l.soft, fds);
  if (l.soft >= fds) {
    c.why = fmt::format("{} connections and {} fds of headroom fit", n, fds - n);
    return c;
  }
  c.fix = nofile_fix(fds, in);
  if (l.hard < n) {
    c.verdict = Verdict::Fail;
    c.why = fmt::format(
        "even raised to the hard limit ({}) it cannot hold {} sockets: accept fails with EMFILE",
        limit_text(l.hard), n);
  } else {
    c.verdict = Verdict::Warn;
    c.why = fmt::format(
        "zcnet raises its soft limit to the hard one ({}) at start, but other programs started "
        "from this shell keep {}",
        limit_text(l.hard), l.soft);
  }
  return c;
}

Check nofile_hard(const LimitInputs& in) {
  const u64 n = in.connections, fds = fds_needed(n);
  const Rlimit l = in.nofile;
  Check c = rlimit_check("rlimit_nofile_hard", l.hard, fds);
  if (l.hard >= fds) {
    c.why =
        fmt::format("the soft limit may be raised to {} fds, enough for {} connections", fds, n);
    return c;
  }
  c.fix = nofile_fix(fds, in);
  if (l.hard < n) {
    const u64 processes = ceil_div(fds, std::max<u64>(l.hard, 1));
    c.verdict = Verdict::Fail;
    c.why = fmt::format(
        "one process cannot hold {} sockets (EMFILE past {}): raise it as root, or run {} worker "
        "processes (zcnet serve --processes {})",
        n, l.hard, processes, processes);
  } else {
    c.verdict = Verdict::Warn;
    c.why = fmt::format(
        "{} sockets fit, but not the {} fds beside them for listeners, files being sent and splice "
        "pipes",
        n, fds - n);
  }
  return c;
}

Check nr_open(const LimitInputs& in) {
  const u64 n = in.connections, fds = fds_needed(n);
  return at_least(
      "fs.nr_open", in.nr_open, fds, n,
      fmt::format("RLIMIT_NOFILE may be raised to the {} fds {} connections want", fds, n),
      fmt::format("RLIMIT_NOFILE cannot be raised above it: {} sockets fit, but not "
                  "the headroom beside them",
                  n),
      fmt::format("RLIMIT_NOFILE cannot be raised above it, so no process can hold "
                  "{} sockets",
                  n));
}

Check file_max(const LimitInputs& in) {
  const u64 n = in.connections, fds = fds_needed(n);
  return at_least(
      "fs.file-max", in.file_max, 2 * fds, fds,
      fmt::format("the system-wide table of open files has room for {} connections twice over", n),
      fmt::format("the system-wide table fits {} connections, but not a proxy's two sockets per "
                  "connection beside every other process's files",
                  n),
      fmt::format("the system-wide table of open files cannot hold {} connections: open and "
                  "accept fail with ENFILE",
                  n));
}

// The listen backlog zcnet asks for, clamped by the kernel to net.core.somaxconn.
u64 listen_queue_wanted(const LimitInputs& in) {
  return std::max<u64>(1, std::min(in.zcnet.listen_backlog, in.connections));
}

Check somaxconn(const LimitInputs& in) {
  const u64 wanted = listen_queue_wanted(in);
  return at_least(
      "net.core.somaxconn", in.somaxconn, wanted, std::max<u64>(1, wanted / 8),
      fmt::format("zcnet's listen backlog ({} per listener) is not clamped",
                  in.zcnet.listen_backlog),
      fmt::format("the kernel clamps zcnet's listen backlog of {} to it: a burst of new "
                  "connections overflows the accept queue and waits for SYN retries",
                  in.zcnet.listen_backlog),
      "a burst of reconnects (every client after a restart) overflows a queue this short many "
      "times over; SYN retries back off to 1, 3, 7 s and clients time out");
}

Check syn_backlog(const LimitInputs& in) {
  const u64 wanted = listen_queue_wanted(in);
  Check c;
  c.wanted = wanted;
  if (!start(c, "net.ipv4.tcp_max_syn_backlog", in.tcp_max_syn_backlog)) return c;
  if (number(in.tcp_max_syn_backlog) >= wanted) {
    c.why = "half-open connections up to the full listen backlog are kept";
    return c;
  }
  c.fix = {sysctl_set(c.sysctl, wanted)};
  const bool cookies_off = in.tcp_syncookies.unavailable.empty() &&
                           !in.tcp_syncookies.numbers.empty() && in.tcp_syncookies.numbers[0] == 0;
  if (cookies_off) {
    c.verdict = Verdict::Fail;
    c.why =
        "net.ipv4.tcp_syncookies is 0, so SYNs from new peers are dropped once this queue "
        "is three quarters full";
    c.fix.push_back(sysctl_set("net.ipv4.tcp_syncookies", 1));
  } else {
    c.verdict = Verdict::Warn;
    c.why =
        "safe only while net.ipv4.tcp_syncookies stays on: the kernel then answers an "
        "overflowing SYN queue with cookies instead of dropping SYNs";
  }
  return c;
}

Check tw_buckets(const LimitInputs& in) {
  const u64 n = in.connections;
  return at_least(
      "net.ipv4.tcp_max_tw_buckets", in.tcp_max_tw_buckets, n, std::max<u64>(1, n / 10),
      fmt::format("all {} connections closing at once keep their TIME_WAIT state", n),
      "when more than this many connections close within 60 s, the rest skip TIME_WAIT and the "
      "kernel logs 'time wait bucket table overflow'",
      "most closes of a mass disconnect skip TIME_WAIT, and the kernel log floods with 'time "
      "wait bucket table overflow'");
}

Check port_range(const LimitInputs& in) {
  const u64 n = in.connections;
  Check c;
  if (!start(c, "net.ipv4.ip_local_port_range", in.ip_local_port_range, 2)) {
    c.wanted = {kWidestPortLow, kWidestPortHigh};
    return c;
  }
  const u64 low = number(in.ip_local_port_range, 0), high = number(in.ip_local_port_range, 1);
  const u64 ports = high >= low ? high - low + 1 : 0;
  const bool widest = low <= kWidestPortLow && high >= kWidestPortHigh;
  c.wanted = widest || ports >= n ? c.current : nlohmann::json{kWidestPortLow, kWidestPortHigh};
  const u64 widest_ports = std::max(ports, kWidestPortHigh - kWidestPortLow + 1);
  if (ports >= n) {
    c.why = fmt::format("one upstream address can take all {} outbound connections of a proxy", n);
    return c;
  }
  if (!widest) c.fix = {sysctl_set(c.sysctl, std::vector<u64>{kWidestPortLow, kWidestPortHigh})};
  c.verdict = ports >= n / 4 ? Verdict::Warn : Verdict::Fail;
  c.why = fmt::format(
      "a proxy's connections to one upstream address share these {} ports (EADDRNOTAVAIL past "
      "them), so {} connections need {} upstream or source addresses{}; a server without "
      "outbound connections is unaffected",
      ports, n, ceil_div(n, std::max<u64>(ports, 1)),
      widest ? "" : fmt::format(" ({} with the widest range)", ceil_div(n, widest_ports)));
  return c;
}

Check netdev_backlog(const LimitInputs& in) {
  const u64 wanted = in.connections >= 10'000 ? kNetdevBacklogBusy : kNetdevBacklogDefault;
  return at_least(
      "net.core.netdev_max_backlog", in.netdev_max_backlog, wanted, kNetdevBacklogDefault,
      "each CPU's queue of received packets absorbs bursts from many connections",
      "a burst of packets from many connections overflows each CPU's input queue and is dropped "
      "(column 2 of /proc/net/softnet_stat counts the drops); tuning guides raise it to 16384",
      "it is below the kernel's default of 1000 packets per CPU: bursts are dropped and "
      "retransmitted");
}

Check tcp_mem(const LimitInputs& in) {
  const u64 n = in.connections, page = std::max<u64>(in.page_bytes, 1);
  const u64 need = ceil_div(n * in.per_connection_bytes, page);
  Check c;
  if (!start(c, "net.ipv4.tcp_mem", in.tcp_mem, 3)) {
    c.wanted = {need / 2, need, need * 2};
    return c;
  }
  const u64 low = number(in.tcp_mem, 0), pressure = number(in.tcp_mem, 1),
            max = number(in.tcp_mem, 2);
  const std::string need_text =
      fmt::format("{} connections x {} need {} pages ({})", n, format_size(in.per_connection_bytes),
                  need, format_size(need * page));
  if (pressure >= need && max >= need) {
    c.wanted = c.current;
    c.why = need_text + ", below the pressure threshold";
    return c;
  }
  // Keep the kernel's own proportions: pressure = 4/3 low, max = 2 low (here: 3/2 pressure).
  const u64 new_pressure = std::max(pressure, need), new_max = std::max(max, new_pressure * 3 / 2);
  const std::vector<u64> wanted{std::min(low, new_pressure), new_pressure, new_max};
  c.wanted = wanted;
  c.fix = {sysctl_set(c.sysctl, wanted)};
  if (max < need) {
    c.verdict = Verdict::Fail;
    c.why = need_text + fmt::format(
                            ", beyond the hard limit of {} pages: sockets cannot grow "
                            "their buffers and sends stall",
                            max);
  } else {
    c.verdict = Verdict::Warn;
    c.why = need_text + fmt::format(
                            ", beyond the pressure threshold of {} pages: the kernel "
                            "shrinks every socket's buffers and throughput drops",
                            pressure);
  }
  return c;
}

Check max_map_count(const LimitInputs& in) {
  const u64 mappings = in.loops * in.zcnet.mapping_cache_entries + kProcessMappings;
  return at_least(
      "vm.max_map_count", in.max_map_count, 2 * mappings, mappings,
      fmt::format("{} loops' mapping caches ({} files each) and the process's own mappings fit "
                  "twice over",
                  in.loops, in.zcnet.mapping_cache_entries),
      fmt::format("{} loops' mapping caches ({} files each) and the process's own mappings fit, "
                  "with little room for malloc's mappings beside them",
                  in.loops, in.zcnet.mapping_cache_entries),
      fmt::format("{} loops' mapping caches ({} files each) and the process's own mappings do "
                  "not fit: mmap fails with ENOMEM",
                  in.loops, in.zcnet.mapping_cache_entries));
}

Check memlock(const LimitInputs& in) {
  const u64 wanted = in.loops * in.zcnet.registered_bytes;
  const Rlimit l = in.memlock;
  Check c = rlimit_check("rlimit_memlock", l.soft, wanted);
  if (l.soft >= wanted) {
    c.why = fmt::format("{} loops can register their buffer pools ({} each) with io_uring",
                        in.loops, format_size(in.zcnet.registered_bytes));
    return c;
  }
  const u64 kib = ceil_div(wanted, 1024);
  c.fix = {fmt::format("ulimit -l {}", kib), fmt::format("LimitMEMLOCK={}", wanted)};
  const bool ring_locked = in.kernel_major < 5 || (in.kernel_major == 5 && in.kernel_minor < 12);
  if (ring_locked && l.soft < in.zcnet.ring_locked_bytes) {
    c.verdict = Verdict::Fail;
    c.why = fmt::format(
        "before Linux 5.12 a ring's own memory is locked memory: a {} io_uring ring does not fit "
        "in {}, so the io_uring loop and strategies cannot start",
        format_size(in.zcnet.ring_locked_bytes), format_size(l.soft));
  } else {
    c.verdict = Verdict::Warn;
    c.why = fmt::format(
        "registering the buffer pools ({} per loop) with io_uring fails with ENOMEM, so "
        "io_uring sends use unregistered buffers (root with CAP_IPC_LOCK is exempt)",
        format_size(in.zcnet.registered_bytes));
  }
  return c;
}

// Pipes a proxy may hold at once: one per moving direction, capped by its pool.
u64 pipes_wanted(const LimitInputs& in) {
  return std::min(2 * in.connections, in.zcnet.max_pipes);
}

Check pipe_max_size(const LimitInputs& in) {
  const std::string bytes = format_size(in.zcnet.pipe_bytes);
  return at_least(
      "fs.pipe-max-size", in.pipe_max_size, in.zcnet.pipe_bytes, kPipeDefaultBytes,
      fmt::format("pooled pipes get their full {}", bytes),
      fmt::format("pooled pipes are clamped below {}: splice moves fewer bytes per call", bytes),
      "every pipe, default ones included, is smaller than 64 KiB: splice moves a few pages per "
      "call and loses to copying");
}

// fs.pipe-user-pages-soft and -hard: pages all of a user's pipes may hold together (0: no limit).
Check pipe_user_pages(const LimitInputs& in, bool hard) {
  const std::string_view key = hard ? "fs.pipe-user-pages-hard" : "fs.pipe-user-pages-soft";
  const u64 pipes = pipes_wanted(in);
  const u64 wanted = pipes * ceil_div(in.zcnet.pipe_bytes, std::max<u64>(in.page_bytes, 1));
  const Reading& r = hard ? in.pipe_user_pages_hard : in.pipe_user_pages_soft;
  Check c;
  c.wanted = wanted;
  if (!start(c, key, r)) return c;
  const u64 v = number(r);
  if (v == 0 || v >= wanted) {
    c.why = fmt::format("{} pooled pipes of {} fit{}", pipes, format_size(in.zcnet.pipe_bytes),
                        v == 0 ? " (0: no limit)" : "");
    return c;
  }
  c.fix = {sysctl_set(key, wanted)};
  const u64 fail_below = pipes * (hard ? kMinPipePages : kDefaultPipePages);
  c.verdict = v < fail_below ? Verdict::Fail : Verdict::Warn;
  if (hard) {
    c.why = c.verdict == Verdict::Fail
                ? fmt::format(
                      "pipe2 fails with ENFILE before the pool's {} pipes exist, so "
                      "those relays copy instead of splicing",
                      pipes)
                : fmt::format("{} pipes can be made, but not all at {}", pipes,
                              format_size(in.zcnet.pipe_bytes));
  } else {
    c.why = c.verdict == Verdict::Fail
                ? fmt::format(
                      "past {} pages a user's new pipes get two pages (8 KiB), so most "
                      "of the pool's {} pipes splice a few KiB per call",
                      v, pipes)
                : fmt::format("{} pipes of 64 KiB fit, but growing them to {} fails with EPERM",
                              pipes, format_size(in.zcnet.pipe_bytes));
  }
  return c;
}

}  // namespace

std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::Ok:
      return "ok";
    case Verdict::Warn:
      return "warn";
    case Verdict::Fail:
      return "fail";
  }
  return "?";
}

ZcnetSizes zcnet_sizes() {
  const PoolOptions pool;
  u64 class_bytes = 0;
  for (std::size_t s : pool.class_sizes) class_bytes += s;
  const proxy::ProxyOptions relay;
  const LoopOptions loop;
  return {
      .listen_backlog = static_cast<u64>(ListenOptions{}.backlog),
      .pipe_bytes = relay.pipe_bytes,
      .max_pipes = relay.max_pipes,
      .registered_bytes = pool.buffers_per_class * class_bytes,
      .mapping_cache_entries = MappingCacheOptions{}.max_entries,
      // 64-byte SQEs, and twice as many 16-byte CQEs, plus their index arrays
      .ring_locked_bytes = u64{loop.uring_entries} * (64 + 2 * 16 + 4),
  };
}

u64 fds_needed(u64 connections) {
  return connections + std::max(kFdHeadroomMin, connections / 10);
}

std::vector<Check> check_limits(const LimitInputs& in) {
  return {nofile_soft(in),
          nofile_hard(in),
          nr_open(in),
          file_max(in),
          somaxconn(in),
          syn_backlog(in),
          netdev_backlog(in),
          tw_buckets(in),
          port_range(in),
          tcp_mem(in),
          max_map_count(in),
          memlock(in),
          pipe_max_size(in),
          pipe_user_pages(in, false),
          pipe_user_pages(in, true)};
}

}  // namespace zcnet::cli::doctor

// `zcnet doctor`'s limit checks: can this system hold N connections? check_limits() is a pure
// function of what was read (LimitInputs), so every verdict is testable without the system.
// The thresholds, and why they are what they are, are in docs/doctor.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace zcnet::cli::doctor {

// ok: holds N connections with headroom. warn: works, but degrades or is borderline (or could not
// be read). fail: N connections cannot work as configured.
enum class Verdict : std::uint8_t { Ok, Warn, Fail };
std::string_view to_string(Verdict v) noexcept;  // "ok", "warn", "fail"

inline constexpr std::uint64_t kDefaultConnections = 100'000;
// Socket memory (charged to net.ipv4.tcp_mem) per connection: one page. Assumes mostly idle
// keep-alive connections, whose queues are empty or hold a partial segment; a connection moving
// bytes holds up to tcp_wmem/tcp_rmem's middle value, so a busy server needs more
// (--per-connection-bytes). zcnet's own buffers are pool memory, not socket memory.
inline constexpr std::uint64_t kSocketBytesPerConnection = 4096;
// RLIM_INFINITY as the checks see it.
inline constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

// One sysctl as read: its integers, or why it could not be read.
struct Reading {
  std::vector<std::int64_t> numbers;  // empty when unavailable
  std::string unavailable;            // "open: ENOENT (No such file or directory): /proc/sys/..."
};

struct Rlimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// zcnet's own sizes that the limits must accommodate; zcnet_sizes() takes them from the
// library's defaults.
struct ZcnetSizes {
  std::uint64_t listen_backlog = 0;         // ListenOptions::backlog, per listener
  std::uint64_t pipe_bytes = 0;             // ProxyOptions::pipe_bytes, each pooled pipe
  std::uint64_t max_pipes = 0;              // ProxyOptions::max_pipes, per worker
  std::uint64_t registered_bytes = 0;       // a default BufferPool's preallocated buffers, per loop
  std::uint64_t mapping_cache_entries = 0;  // MappingCacheOptions::max_entries, per loop
  std::uint64_t ring_locked_bytes = 0;      // one io_uring loop ring (locked memory before 5.12)
};
ZcnetSizes zcnet_sizes();

struct LimitInputs {
  std::uint64_t connections = kDefaultConnections;
  std::uint64_t per_connection_bytes = kSocketBytesPerConnection;
  std::uint64_t page_bytes = 4096;
  std::uint64_t loops = 1;  // event-loop threads: each has a mapping cache and a registered pool
  int kernel_major = 0;
  int kernel_minor = 0;
  ZcnetSizes zcnet;
  Rlimit nofile;
  Rlimit memlock;
  Reading nr_open, file_max, somaxconn, tcp_max_syn_backlog, tcp_syncookies, tcp_max_tw_buckets,
      ip_local_port_range, max_map_count, tcp_mem, netdev_max_backlog, pipe_max_size,
      pipe_user_pages_soft, pipe_user_pages_hard;
};

struct Check {
  std::string name;    // the sysctl ("fs.nr_open") or the rlimit ("rlimit_nofile_soft")
  std::string sysctl;  // the sysctl `wanted` is for; empty for an rlimit
  Verdict verdict = Verdict::Ok;
  nlohmann::json current;        // a number, an array of numbers, or null when unavailable
  nlohmann::json wanted;         // the same shape: the value N connections want
  std::string why;               // one sentence
  std::vector<std::string> fix;  // commands that set `wanted`; empty when ok
  std::string unavailable;       // why `current` could not be read (the verdict is then warn)
};

// File descriptors a server with N connections wants: N plus headroom for listeners, files being
// sent, splice pipes and logs (a tenth of N, at least 1024).
std::uint64_t fds_needed(std::uint64_t connections);

// One Check per limit, in a fixed order: file descriptors, listen queues, ports, memory, pipes.
std::vector<Check> check_limits(const LimitInputs& in);

}  // namespace zcnet::cli::doctor

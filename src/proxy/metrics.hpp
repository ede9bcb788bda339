// One worker's proxy counters: written by that worker's loop thread only (relaxed single-writer
// Counters), summed by a scrape on any thread. Per-upstream counts live in UpstreamState.
#pragma once

#include <atomic>
#include <cstdint>

#include "zcnet/observe/counter.hpp"
#include "zcnet/observe/pool_metrics.hpp"
#include "zcnet/proxy/proxy.hpp"

namespace zcnet::proxy {

// How a connection ended (the access log's last field, a metrics label).
enum class Close : std::uint8_t { Done, Reset, IdleTimeout, NoUpstream, Error, Shutdown };
inline constexpr std::size_t kCloseKinds = 6;
std::string_view to_string(Close c) noexcept;  // "done", "reset", "idle-timeout", ...

struct Proxy::WorkerMetrics {
  Counter accepted;
  Counter refused;  // over max_connections
  Counter closed[kCloseKinds];
  Counter pipe_fallbacks;  // bursts copied because no pipe could be leased
  Counter mirror_sent;
  Counter mirror_dropped;
  Counter mirror_cuts;
  std::atomic<std::uint64_t> pipes_leased{0};  // sampled by the watchdog
  PoolGauges pools;                            // the worker's pools, sampled by the watchdog
};

}  // namespace zcnet::proxy

// One worker's HTTP counters: written by that worker's loop thread only (single writer, relaxed
// atomics, no lock, no allocation), read and summed by a scrape on any thread.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "zcnet/observe/counter.hpp"
#include "zcnet/observe/histogram.hpp"
#include "zcnet/observe/pool_metrics.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::http {

// Response bytes are counted by the strategy that sent the body; responses without a file body
// (errors, 304, HEAD, redirects) under "headers-only".
inline constexpr std::size_t kHeadersOnly = static_cast<std::size_t>(StrategyKind::Auto);
inline constexpr std::size_t kStrategySlots = kHeadersOnly + 1;

// Why a transfer fell back from one strategy to another: the errno, from a bounded set.
inline constexpr std::array<int, 5> kFallbackErrnos = {EINVAL, ENOSYS, EOPNOTSUPP, EXDEV, ENOBUFS};
inline constexpr std::size_t kFallbackReasons = kFallbackErrnos.size() + 1;  // the last: other
inline std::size_t fallback_reason(int err) noexcept {
  for (std::size_t i = 0; i < kFallbackErrnos.size(); ++i)
    if (kFallbackErrnos[i] == err) return i;
  return kFallbackErrnos.size();
}

// The zero-copy ledger of one strategy: body bytes by whether user space copied them, and the
// kernel's MSG_ZEROCOPY / send_zc notifications.
struct LedgerCounters {
  Counter copied;          // through a user-space buffer
  Counter not_copied;      // by page reference or mapping: no user-space copy
  Counter zc_completions;  // notifications received
  Counter zc_copied;       // of those, flagged "copied anyway"
};

struct WorkerMetrics {
  std::array<Counter, 600> requests_by_status;  // index: the status code (100..599)
  std::array<Counter, kStrategySlots> bytes_by_strategy;
  Histogram duration_us;  // request duration in microseconds
  // Request buffers taken and given back: a connection holds one only while a request is read or
  // answered (their difference is a gauge; an idle keep-alive connection holds none).
  Counter buffers_taken;
  Counter buffers_returned;
  std::array<LedgerCounters, kStrategySlots> ledger;
  PoolGauges pools;  // the engine's pools, copied in by the watchdog
  // [from][to][reason]: transfers that left one strategy for another.
  std::array<std::array<std::array<Counter, kFallbackReasons>, kStrategySlots>, kStrategySlots>
      fallbacks;

  void body(StrategyKind how, std::uint64_t copied, std::uint64_t not_copied,
            std::uint64_t zc_completions = 0, std::uint64_t zc_copied = 0) noexcept {
    LedgerCounters& l = ledger[static_cast<std::size_t>(how) % kStrategySlots];
    if (copied) l.copied.add(copied);
    if (not_copied) l.not_copied.add(not_copied);
    if (zc_completions) l.zc_completions.add(zc_completions);
    if (zc_copied) l.zc_copied.add(zc_copied);
  }
  void fell_back(StrategyKind from, StrategyKind to, int err) noexcept {
    fallbacks[static_cast<std::size_t>(from) % kStrategySlots]
             [static_cast<std::size_t>(to) % kStrategySlots][fallback_reason(err)]
                 .add();
  }

  // One response: `strategy` is the slot (StrategyKind value, or kHeadersOnly).
  void record(int status, std::size_t strategy, std::uint64_t bytes,
              std::chrono::nanoseconds took) noexcept {
    if constexpr (!kObserve) return;
    if (status >= 0 && status < static_cast<int>(requests_by_status.size()))
      requests_by_status[static_cast<std::size_t>(status)].add();
    bytes_by_strategy[strategy < kStrategySlots ? strategy : kHeadersOnly].add(bytes);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    duration_us.record(us > 0 ? static_cast<std::uint64_t>(us) : 0);
  }
};

}  // namespace zcnet::http

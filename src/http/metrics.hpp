// One worker's HTTP counters: written by that worker's loop thread only (single writer, relaxed
// atomics, no lock, no allocation), read and summed by a scrape on any thread.
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "zcnet/observe/counter.hpp"
#include "zcnet/observe/histogram.hpp"
#include "zcnet/observe/ledger.hpp"
#include "zcnet/observe/pool_metrics.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::http {

// Response bytes are counted by the strategy that sent the body; responses without a file body
// (errors, 304, HEAD, redirects) under "headers-only".
inline constexpr std::size_t kHeadersOnly = static_cast<std::size_t>(StrategyKind::Auto);
inline constexpr std::size_t kStrategySlots = kHeadersOnly + 1;

static_assert(kStrategySlots <= kLedgerSlots);

struct WorkerMetrics {
  std::array<Counter, 600> requests_by_status;  // index: the status code (100..599)
  std::array<Counter, kStrategySlots> bytes_by_strategy;
  Histogram duration_us;  // request duration in microseconds
  // Request buffers taken and given back: a connection holds one only while a request is read or
  // answered (their difference is a gauge; an idle keep-alive connection holds none).
  Counter buffers_taken;
  Counter buffers_returned;
  Ledger ledger;     // response bodies
  PoolGauges pools;  // the engine's pools, copied in by the watchdog
  void body(StrategyKind how, std::uint64_t copied, std::uint64_t not_copied,
            std::uint64_t zc_completions = 0, std::uint64_t zc_copied = 0) noexcept {
    ledger.body(static_cast<std::size_t>(how), copied, not_copied, zc_completions, zc_copied);
  }
  void fell_back(StrategyKind from, StrategyKind to, int err) noexcept {
    ledger.fell_back(static_cast<std::size_t>(from), static_cast<std::size_t>(to), err);
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

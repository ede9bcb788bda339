// zcnet::Counter: a monotonic count with one writer thread and any number of readers. The writer
// adds with a relaxed load and store (no read-modify-write, no lock, no fence): near free on the
// hot path (docs/architecture.md, invariant 7). Readers (a metrics scrape) load it relaxed from any
// thread.
//
//   Counter served;             // owned by one worker thread
//   served.add(bytes);          // on that thread only
//   total += served.value();    // from any thread
#pragma once

#include <atomic>
#include <cstdint>

#include "zcnet/sys/observe_switch.hpp"

namespace zcnet {

class Counter {
 public:
  // Invariant: only one thread ever calls add() on a given Counter.
  // A build without observability (ZCNET_OBSERVE=0) compiles this out: every count stays 0.
  void add(std::uint64_t n = 1) noexcept {
    if constexpr (kObserve)
      v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace zcnet

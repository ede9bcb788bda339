// Metrics of the commands whose unit of work is a Transfer on one loop thread (recv, one per
// connection; load-server, one per request): transfers by how they ended, bytes by strategy, the
// zero-copy ledger, the engine's pools, open connections, and the process-wide families
// (syscall timing, process_*). Written by the loop thread only (relaxed single-writer
// counters); write() runs on the metrics endpoint's thread.
//
//   TransferMetrics m("recv");
//   m.transfer(t, TransferMetrics::Ok);   // on the loop thread, after each transfer
//   m.sample_pools(engine);               // on the loop thread, now and then
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "zcnet/observe/counter.hpp"
#include "zcnet/observe/ledger.hpp"
#include "zcnet/observe/pool_metrics.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::cli {

class TransferMetrics {
 public:
  enum Outcome : std::uint8_t { Ok, Cut, Failed };
  static constexpr std::size_t kSlots = static_cast<std::size_t>(StrategyKind::Auto);

  // `command`: the families' prefix, zcnet_<command>_ ("recv", "load_server").
  explicit TransferMetrics(std::string command);

  void opened() noexcept { open_.store(open_.load(std::memory_order_relaxed) + 1, kRelaxed); }
  void closed() noexcept { open_.store(open_.load(std::memory_order_relaxed) - 1, kRelaxed); }
  // One transfer's bytes, copies, zero-copy notifications and fallback, and how it ended.
  void transfer(const Transfer& t, Outcome how) noexcept;
  // Bytes moved outside a Transfer (recv's discard: read into a buffer and dropped).
  void copied(StrategyKind how, std::uint64_t bytes) noexcept;
  void outcome(Outcome how) noexcept { outcomes_[how].add(); }
  void sample_pools(Engine& engine) noexcept;

  void write(std::string& out) const;

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  std::string command_;
  std::atomic<std::uint64_t> open_{0};
  std::array<Counter, 3> outcomes_;
  std::array<Counter, kSlots> bytes_;
  Ledger ledger_;
  PoolGauges pools_;
};

}  // namespace zcnet::cli

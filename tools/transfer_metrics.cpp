#include "transfer_metrics.hpp"

#include <fmt/format.h>

#include "zcnet/observe/process_metrics.hpp"
#include "zcnet/observe/prometheus.hpp"
#include "zcnet/observe/syscall_timing.hpp"

namespace zcnet::cli {

TransferMetrics::TransferMetrics(std::string command) : command_(std::move(command)) {
  pools_.has_mappings = true;
}

void TransferMetrics::transfer(const Transfer& t, Outcome how) noexcept {
  const Stats& s = t.stats();
  const Choice& c = t.choice();
  const auto slot = static_cast<std::size_t>(c.strategy);
  if (slot < kSlots) bytes_[slot].add(s.bytes);
  const std::uint64_t copied = std::min(s.bytes_copied_user, s.bytes);
  ledger_.body(slot, copied, s.bytes - copied, s.zc_completions, s.zc_copied);
  if (c.fell_back_from)
    ledger_.fell_back(static_cast<std::size_t>(*c.fell_back_from), slot, c.fallback_errno);
  outcomes_[how].add();
}

void TransferMetrics::copied(StrategyKind how, std::uint64_t bytes) noexcept {
  const auto slot = static_cast<std::size_t>(how);
  if (slot < kSlots) bytes_[slot].add(bytes);
  ledger_.body(slot, bytes, 0);
}

void TransferMetrics::sample_pools(Engine& engine) noexcept {
  pools_.sample(engine.buffers().stats(), engine.pipes().stats());
  pools_.sample_mappings(engine.mappings().stats());
}

void TransferMetrics::write(std::string& out) const {
  PrometheusText p(out);
  const std::string transfers = fmt::format("zcnet_{}_transfers_total", command_);
  p.family(transfers, "counter", "Transfers, by how they ended: ok, cut by the peer, or failed.");
  static constexpr std::string_view kOutcomes[] = {"ok", "cut", "failed"};
  for (std::size_t i = 0; i < outcomes_.size(); ++i)
    p.sample(transfers, {{"result", kOutcomes[i]}}, outcomes_[i].value());
  const std::string bytes = fmt::format("zcnet_{}_bytes_total", command_);
  p.family(bytes, "counter", "Bytes moved, by the strategy that moved them.");
  std::array<std::string_view, kSlots> names;
  for (std::size_t i = 0; i < kSlots; ++i) {
    names[i] = to_string(static_cast<StrategyKind>(i));
    if (const std::uint64_t n = bytes_[i].value()) p.sample(bytes, {{"strategy", names[i]}}, n);
  }
  const std::string open = fmt::format("zcnet_{}_open_connections", command_);
  p.family(open, "gauge", "Connections open now.");
  p.sample(open, {}, open_.load(kRelaxed));
  const Ledger* ledgers[] = {&ledger_};
  write_ledger(p, ledgers, names);
  const PoolGauges* pools[] = {&pools_};
  write_pool_metrics(p, pools);
  write_syscall_metrics(p);
  write_process_metrics(p);
}

}  // namespace zcnet::cli

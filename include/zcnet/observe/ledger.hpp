// zcnet::Ledger: the zero-copy ledger of one worker thread: body bytes by the strategy that moved
// them and whether they passed through a user-space buffer, the kernel's MSG_ZEROCOPY / send_zc
// notifications (and how many it flagged "copied anyway"), and transfers that fell back from one
// strategy to another, by errno. One writer thread (relaxed Counters); write_ledger sums any
// number of them on a scrape. Strategies are slots (a StrategyKind's value); the caller names
// them on output, so this layer needs nothing of the transfer layer.
//
//   ledger.body(slot, copied, not_copied);              // on the worker's thread
//   write_ledger(p, ledgers, strategy_names);           // on the scrape's
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <span>
#include <string_view>

#include "zcnet/observe/counter.hpp"

namespace zcnet {

class PrometheusText;

inline constexpr std::size_t kLedgerSlots = 12;  // strategy slots (StrategyKind values)

// Why a transfer fell back: its errno, from a bounded set (the last reason: any other).
inline constexpr std::array<int, 5> kFallbackErrnos = {EINVAL, ENOSYS, EOPNOTSUPP, EXDEV, ENOBUFS};
inline constexpr std::size_t kFallbackReasons = kFallbackErrnos.size() + 1;
constexpr std::size_t fallback_reason(int err) noexcept {
  for (std::size_t i = 0; i < kFallbackErrnos.size(); ++i)
    if (kFallbackErrnos[i] == err) return i;
  return kFallbackErrnos.size();
}

class Ledger {
 public:
  void body(std::size_t slot, std::uint64_t copied, std::uint64_t not_copied,
            std::uint64_t zc_completions = 0, std::uint64_t zc_copied = 0) noexcept {
    Slot& s = slots_[slot % kLedgerSlots];
    if (copied) s.copied.add(copied);
    if (not_copied) s.not_copied.add(not_copied);
    if (zc_completions) s.zc_completions.add(zc_completions);
    if (zc_copied) s.zc_copied.add(zc_copied);
  }
  void fell_back(std::size_t from, std::size_t to, int err) noexcept {
    fallbacks_[from % kLedgerSlots][to % kLedgerSlots][fallback_reason(err)].add();
  }

 private:
  friend void write_ledger(PrometheusText&, std::span<const Ledger* const>,
                           std::span<const std::string_view>);
  struct Slot {
    Counter copied;          // through a user-space buffer
    Counter not_copied;      // by page reference or mapping
    Counter zc_completions;  // notifications received
    Counter zc_copied;       // of those, flagged "copied anyway"
  };
  std::array<Slot, kLedgerSlots> slots_;
  std::array<std::array<std::array<Counter, kFallbackReasons>, kLedgerSlots>, kLedgerSlots>
      fallbacks_;
};

// zcnet_transfer_bytes_copied_total, zcnet_transfer_bytes_not_copied_total,
// zcnet_transfer_zerocopy_completions_total and zcnet_transfer_fallbacks_total, summed over
// `ledgers`. Slot i is labelled names[i]; slots past `names` are left out; a strategy appears
// once it has moved a byte.
void write_ledger(PrometheusText& p, std::span<const Ledger* const> ledgers,
                  std::span<const std::string_view> names);

}  // namespace zcnet

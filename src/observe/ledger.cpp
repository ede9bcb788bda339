#include "zcnet/observe/ledger.hpp"

#include "zcnet/observe/prometheus.hpp"
#include "zcnet/sys/error.hpp"

namespace zcnet {

void write_ledger(PrometheusText& p, std::span<const Ledger* const> ledgers,
                  std::span<const std::string_view> names) {
  struct Sum {
    std::uint64_t copied = 0, not_copied = 0, zc = 0, zc_copied = 0;
  };
  const std::size_t n = std::min(names.size(), kLedgerSlots);
  std::array<Sum, kLedgerSlots> sums{};
  std::array<std::array<std::array<std::uint64_t, kFallbackReasons>, kLedgerSlots>, kLedgerSlots>
      falls{};
  for (const Ledger* l : ledgers) {
    for (std::size_t i = 0; i < n; ++i) {
      sums[i].copied += l->slots_[i].copied.value();
      sums[i].not_copied += l->slots_[i].not_copied.value();
      sums[i].zc += l->slots_[i].zc_completions.value();
      sums[i].zc_copied += l->slots_[i].zc_copied.value();
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t k = 0; k < kFallbackReasons; ++k)
          falls[i][j][k] += l->fallbacks_[i][j][k].value();
    }
  }
  const auto bytes_family = [&](std::string_view name, std::string_view help,
                                std::uint64_t Sum::*field) {
    p.family(name, "counter", help);
    for (std::size_t i = 0; i < n; ++i)
      if (sums[i].copied || sums[i].not_copied)
        p.sample(name, {{"strategy", names[i]}}, sums[i].*field);
  };
  bytes_family("zcnet_transfer_bytes_copied_total",
               "Body bytes that passed through a user-space buffer, by the strategy that moved "
               "them.",
               &Sum::copied);
  bytes_family("zcnet_transfer_bytes_not_copied_total",
               "Body bytes moved without a user-space copy (page references or a mapping), by "
               "strategy. The kernel may still copy them: see "
               "zcnet_transfer_zerocopy_completions_total.",
               &Sum::not_copied);
  p.family("zcnet_transfer_zerocopy_completions_total", "counter",
           "MSG_ZEROCOPY and io_uring send_zc notifications, by strategy and by whether the kernel "
           "flagged the bytes copied anyway (always so on loopback).");
  for (std::size_t i = 0; i < n; ++i) {
    if (!sums[i].zc) continue;
    p.sample("zcnet_transfer_zerocopy_completions_total",
             {{"strategy", names[i]}, {"kernel_copied", "true"}}, sums[i].zc_copied);
    p.sample("zcnet_transfer_zerocopy_completions_total",
             {{"strategy", names[i]}, {"kernel_copied", "false"}}, sums[i].zc - sums[i].zc_copied);
  }
  p.family("zcnet_transfer_fallbacks_total", "counter",
           "Transfers that left a strategy the kernel refused for the next one, by the errno "
           "that made them (other: any errno not named).");
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t k = 0; k < kFallbackReasons; ++k)
        if (falls[i][j][k])
          p.sample("zcnet_transfer_fallbacks_total",
                   {{"from", names[i]},
                    {"to", names[j]},
                    {"reason", k < kFallbackErrnos.size() ? errno_name(kFallbackErrnos[k])
                                                          : std::string_view("other")}},
                   falls[i][j][k]);
}

}  // namespace zcnet

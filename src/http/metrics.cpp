// The scrape side of the server's metrics: sums every worker's counters (reads only; workers
// keep writing) and writes the Prometheus text.
#include "http/metrics.hpp"

#include <fmt/format.h>

#include "zcnet/http/server.hpp"
#include "zcnet/observe/process_metrics.hpp"
#include "zcnet/observe/prometheus.hpp"
#include "zcnet/observe/syscall_timing.hpp"

namespace zcnet::http {

namespace {

// Request duration buckets in seconds: 100 us to 10 s.
constexpr double kDurationBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

std::string_view strategy_label(std::size_t slot) {
  return slot == kHeadersOnly ? std::string_view("headers-only")
                              : to_string(static_cast<StrategyKind>(slot));
}

}  // namespace

WorkerMetrics& Server::add_worker_metrics() {
  std::lock_guard lock(mu_);  // once per worker start
  metrics_.push_back(std::make_unique<WorkerMetrics>());
  metrics_.back()->pools.has_mappings = true;  // every worker's engine has a mapping cache
  return *metrics_.back();
}

// The zero-copy ledger, summed over the workers.
void Server::write_ledger(PrometheusText& p) const {
  struct Sum {
    std::uint64_t copied = 0, not_copied = 0, zc = 0, zc_copied = 0;
  };
  std::array<Sum, kStrategySlots> sums{};
  std::array<std::array<std::array<std::uint64_t, kFallbackReasons>, kStrategySlots>,
             kStrategySlots>
      falls{};
  {
    std::lock_guard lock(mu_);
    for (const auto& m : metrics_) {
      for (std::size_t i = 0; i < kStrategySlots; ++i) {
        sums[i].copied += m->ledger[i].copied.value();
        sums[i].not_copied += m->ledger[i].not_copied.value();
        sums[i].zc += m->ledger[i].zc_completions.value();
        sums[i].zc_copied += m->ledger[i].zc_copied.value();
        for (std::size_t j = 0; j < kStrategySlots; ++j)
          for (std::size_t k = 0; k < kFallbackReasons; ++k)
            falls[i][j][k] += m->fallbacks[i][j][k].value();
      }
    }
  }
  // One sample per strategy that has sent a body.
  const auto bytes_family = [&](std::string_view name, std::string_view help,
                                std::uint64_t Sum::*field) {
    p.family(name, "counter", help);
    for (std::size_t i = 0; i < kHeadersOnly; ++i)
      if (sums[i].copied || sums[i].not_copied)
        p.sample(name, {{"strategy", strategy_label(i)}}, sums[i].*field);
  };
  bytes_family("zcnet_transfer_bytes_copied_total",
               "Response body bytes that passed through a user-space buffer, by the strategy "
               "that sent them.",
               &Sum::copied);
  bytes_family("zcnet_transfer_bytes_not_copied_total",
               "Response body bytes sent without a user-space copy (page references or a "
               "mapping), by strategy. The kernel may still copy them: see "
               "zcnet_transfer_zerocopy_completions_total.",
               &Sum::not_copied);
  p.family("zcnet_transfer_zerocopy_completions_total", "counter",
           "MSG_ZEROCOPY and io_uring send_zc notifications, by strategy and by whether the kernel "
           "flagged the bytes copied anyway (always so on loopback).");
  for (std::size_t i = 0; i < kHeadersOnly; ++i) {
    if (!sums[i].zc) continue;
    p.sample("zcnet_transfer_zerocopy_completions_total",
             {{"strategy", strategy_label(i)}, {"kernel_copied", "true"}}, sums[i].zc_copied);
    p.sample("zcnet_transfer_zerocopy_completions_total",
             {{"strategy", strategy_label(i)}, {"kernel_copied", "false"}},
             sums[i].zc - sums[i].zc_copied);
  }
  p.family("zcnet_transfer_fallbacks_total", "counter",
           "Transfers that left a strategy the kernel refused for the next one, by the errno "
           "that made them (other: any errno not named).");
  for (std::size_t i = 0; i < kStrategySlots; ++i)
    for (std::size_t j = 0; j < kStrategySlots; ++j)
      for (std::size_t k = 0; k < kFallbackReasons; ++k)
        if (falls[i][j][k])
          p.sample("zcnet_transfer_fallbacks_total",
                   {{"from", strategy_label(i)},
                    {"to", strategy_label(j)},
                    {"reason", k < kFallbackErrnos.size() ? errno_name(kFallbackErrnos[k])
                                                          : std::string_view("other")}},
                   falls[i][j][k]);
}

void Server::write_metrics(std::string& out) const {
  std::array<std::uint64_t, 600> statuses{};
  std::array<std::uint64_t, kStrategySlots> bytes{};
  auto duration = std::make_unique<Histogram>();  // fixed size, possibly large: not on the stack
  std::uint64_t taken = 0, returned = 0;
  {
    std::lock_guard lock(mu_);  // the list of blocks, not their counts (workers never lock)
    for (const auto& m : metrics_) {
      for (std::size_t i = 0; i < statuses.size(); ++i)
        statuses[i] += m->requests_by_status[i].value();
      for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] += m->bytes_by_strategy[i].value();
      duration->merge(m->duration_us);
      returned += m->buffers_returned.value();  // read before taken: never more than taken
      taken += m->buffers_taken.value();
    }
  }
  PrometheusText p(out);
  p.family("zcnet_http_requests_total", "counter", "HTTP responses sent, by status code.");
  for (std::size_t s = 0; s < statuses.size(); ++s) {
    if (statuses[s] == 0) continue;
    const std::string code = fmt::format("{}", s);
    p.sample("zcnet_http_requests_total", {{"status", code}}, statuses[s]);
  }
  p.family("zcnet_http_response_bytes_total", "counter",
           "Response bytes sent (head and body), by the strategy that sent the body.");
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] != 0 || i == kHeadersOnly)
      p.sample("zcnet_http_response_bytes_total", {{"strategy", strategy_label(i)}}, bytes[i]);
  p.family("zcnet_http_open_connections", "gauge", "Client connections open now.");
  p.sample("zcnet_http_open_connections", {}, static_cast<std::uint64_t>(connections()));
  p.family("zcnet_http_busy_connections", "gauge",
           "Client connections holding a request buffer now (reading or answering a request); "
           "the other open connections are idle and hold none.");
  p.sample("zcnet_http_busy_connections", {}, taken >= returned ? taken - returned : 0);
  p.histogram("zcnet_http_request_duration_seconds",
              "Time from a complete request to its last response byte handed to the kernel.",
              *duration, kDurationBounds, 1e6);
  p.family("zcnet_http_config_generation", "gauge", "Configuration reloads applied (SIGHUP).");
  p.sample("zcnet_http_config_generation", {}, generation());
  write_ledger(p);
  {
    std::vector<const PoolGauges*> pools;
    std::lock_guard lock(mu_);  // the blocks outlive their workers: they stay in metrics_
    for (const auto& m : metrics_) pools.push_back(&m->pools);
    write_pool_metrics(p, pools);
  }
  if (const Tracer* t = site()->options().tracer.get()) write_trace_metrics(p, *t);
  write_syscall_metrics(p);
  write_process_metrics(p);
}

}  // namespace zcnet::http

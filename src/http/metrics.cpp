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
  std::array<std::string_view, kHeadersOnly> names;
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = strategy_label(i);
  std::vector<const Ledger*> ledgers;
  std::lock_guard lock(mu_);
  for (const auto& m : metrics_) ledgers.push_back(&m->ledger);
  zcnet::write_ledger(p, ledgers, names);
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

// `zcnet load-server`: the server side of `zcnet bench` (bench_server.hpp) on its own. It answers
// the load protocol (load.hpp) from a file with one strategy until SIGINT or SIGTERM, so that a
// benchmark outside `zcnet bench` can put the C++ engine next to other servers under the same
// `zcnet load` client (bench/peers/python_servers.py runs it as its native reference).
#include <fmt/format.h>

#include <cstdio>
#include <future>
#include <mutex>

#include "bench/bench_server.hpp"
#include "bench/load.hpp"
#include "commands.hpp"
#include "endpoints.hpp"
#include "stop_signals.hpp"
#include "transfer_metrics.hpp"

namespace zcnet::cli {

namespace {

struct LoadServerArgs {
  std::string file, strategy = "auto", backend = std::string(kDefaultLoadBackend), metrics;
};

void run_load_server(const LoadServerArgs& a) {
  const StrategyKind strategy = strategy_named(a.strategy);
  const BackendKind backend = backend_option_kind(a.backend);
  const InputFile file = check(open_input(a.file));

  StopSignals signals;  // blocks SIGINT/SIGTERM before the loop thread starts
  BenchServerConfig config;
  config.backend = backend;
  config.strategy = strategy;
  config.file_fd = file.fd.get();
  config.file_size = file.size;
  config.max_buffers_per_class = 4096;
  std::unique_ptr<TransferMetrics> metrics;
  std::unique_ptr<MetricsEndpoint> endpoint;  // after `metrics`: stops scraping it first
  if (!a.metrics.empty()) {
    metrics = std::make_unique<TransferMetrics>("load_server");
    config.metrics = metrics.get();
    endpoint = start_metrics(a.metrics, "load-server",
                             [m = metrics.get()](std::string& text) { m->write(text); });
  }
  auto server = check(BenchServer::start(config));
  fmt::print("{}\n", server->port());
  std::fflush(stdout);

  std::promise<void> stop;
  auto stopped = stop.get_future();
  std::once_flag once;
  auto end = [&] { std::call_once(once, [&] { stop.set_value(); }); };
  signals.listen(end, end);
  stopped.wait();
  signals.close();
  const ServerTotals t = server->stop();
  if (t.errors > 0)
    fmt::print(stderr, "zcnet load-server: {} transfers, {} errors (first: {})\n", t.transfers,
               t.errors, t.first_error);
}

}  // namespace

void add_load_server(CLI::App& app) {
  auto a = std::make_shared<LoadServerArgs>();
  auto* cmd = app.add_subcommand("load-server",
                                 "bench's server on its own: answer `zcnet load` from a file on "
                                 "127.0.0.1 until SIGINT/SIGTERM");
  cmd->add_option("--file", a->file, "payload file (requests above its size are refused)")
      ->required();
  add_strategy_option(cmd, a->strategy, "the responses");
  add_backend_option(cmd, a->backend);  // default: kDefaultLoadBackend
  cmd->add_option("--metrics", a->metrics,
                  "ADDR:PORT serving Prometheus metrics at /metrics (port 0: any): transfers, "
                  "bytes by strategy, the zero-copy ledger, pools");
  cmd->callback([a] { run_load_server(*a); });
}

}  // namespace zcnet::cli

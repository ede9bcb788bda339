// The server side of `zcnet bench`: one event loop on its own thread answering the load protocol
// (load.hpp) from a payload file with one forced strategy (or the selector's choice), so the
// benchmark can measure that thread and its engine apart from the load generator's process.
#pragma once

#include <array>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_perf.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/transfer/stats.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::cli {

class TransferMetrics;

// What the server did during one cell (read after the thread has ended).
struct ServerTotals {
  Stats stats;  // engine counters summed over every transfer (cut ones included)
  std::uint64_t transfers = 0, cut = 0, errors = 0;
  std::string first_error;
  std::array<std::uint64_t, static_cast<std::size_t>(StrategyKind::Auto) + 1> ran{};
  std::vector<PerfReading> perf;  // the loop thread's counters
  double thread_user_s = 0, thread_sys_s = 0;
  long thread_voluntary_ctx = 0, thread_involuntary_ctx = 0;
  LoopStats loop;
  std::string backend;
  nlohmann::json socket_options = nlohmann::json::object();  // of the first accepted socket
};

struct BenchServerConfig {
  BackendKind backend = BackendKind::Epoll;
  StrategyKind strategy = StrategyKind::Auto;
  int file_fd = -1;  // payload, read from offset 0; requests above file_size are refused
  std::uint64_t file_size = 0;
  // Buffer pool cap per size class: buffer strategies hold one per transfer, zero-copy ones more
  // until the kernel's completions return them, so the pool grows (lazily) with the concurrency.
  std::size_t max_buffers_per_class = 64;
  // Counted into as the loop thread goes (load-server --metrics); null: not counted.
  TransferMetrics* metrics = nullptr;
};

class BenchServer {
 public:
  // Listens on 127.0.0.1 (ephemeral port) and starts the loop thread; ready when it returns.
  static Result<std::unique_ptr<BenchServer>> start(const BenchServerConfig& config);
  ~BenchServer();
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // Stops accepting, lets connections end (cancelling any left after 2 s), joins the thread.
  ServerTotals stop();

 private:
  explicit BenchServer(const BenchServerConfig& config) : config_(config) {}
  void run(UniqueFd listener, std::promise<Result<void>> ready);

  BenchServerConfig config_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex loop_mutex_;  // guards loop_: stop() may race with the thread ending on an error
  Loop* loop_ = nullptr;
  ServerTotals totals_;
  bool stopped_ = false;
};

}  // namespace zcnet::cli

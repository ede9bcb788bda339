// What one loop thread of a Proxy keeps: its pipes, its connections (an intrusive list the
// watchdog walks for idle timeouts and shutdown), and its access-log buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "proxy/config.hpp"
#include "proxy/metrics.hpp"
#include "zcnet/loop/cancel.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/pool/pipe_pool.hpp"

namespace zcnet::proxy {

// One connection's entry in its worker's list. Lives in the connection task's frame.
struct ConnState {
  ConnState* prev = nullptr;
  ConnState* next = nullptr;
  CancelSource cancel;      // every wait of this connection uses cancel.token()
  std::uint64_t moved = 0;  // bytes both ways so far (the pumps add to it)
  std::uint64_t seen = 0;   // `moved` at the watchdog's last look
  Clock::time_point last_progress{};
  bool relaying = false;      // connected to an upstream (draining leaves these running)
  bool idle_expired = false;  // cancelled by the idle timeout
};

class Worker {
 public:
  Worker(Loop& loop, Proxy& proxy);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  Loop& loop() noexcept { return *loop_; }
  Proxy& proxy() noexcept { return *proxy_; }
  // The Config new connections get (the Proxy's current one, picked up after a reload).
  const std::shared_ptr<const Config>& config();
  const ProxyOptions& options() const noexcept { return config_->options(); }
  Proxy::WorkerMetrics& metrics() noexcept { return *metrics_; }
  PipePool& pipes() noexcept { return pipes_; }
  BufferPool& buffers() noexcept { return buffers_; }
  // The buffer a burst's first bytes are copied through (relay.cpp's probe). Shared by every flow
  // of this worker: nothing may stay in it across a suspension.
  std::span<std::byte> scratch() noexcept { return {scratch_.get(), kScratchBytes}; }
  static constexpr std::size_t kScratchBytes = 16 * 1024;
  TaskGroup& conns() noexcept { return conns_; }
  bool draining() const noexcept { return draining_; }

  void add(ConnState& c) noexcept;
  void remove(ConnState& c) noexcept;
  void start_draining();  // connections not yet relaying are cancelled now
  void cancel_all();
  void check_idle(Clock::time_point now);

  void log_line(std::string_view line);  // no-op without an access log
  void flush_log();

 private:
  Loop* loop_;
  Proxy* proxy_;
  std::shared_ptr<const Config> config_;
  std::uint64_t generation_;
  Proxy::WorkerMetrics* metrics_;
  PipePool pipes_;
  BufferPool buffers_;
  std::unique_ptr<std::byte[]> scratch_;
  TaskGroup conns_;
  ConnState head_;
  bool draining_ = false;
  std::string log_;
};

}  // namespace zcnet::proxy

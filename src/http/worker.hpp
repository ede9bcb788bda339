// What one loop thread of a Server keeps: its engine (selector, pools), its connections (an
// intrusive list the watchdog walks for send timeouts and shutdown), and its access-log buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/file_cache.hpp"
#include "http/metrics.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/loop/cancel.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::http {

enum class Phase : std::uint8_t { Idle, Reading, Sending };

// One connection's entry in its worker's list. Lives in the connection task's frame.
struct ConnState {
  ConnState* prev = nullptr;
  ConnState* next = nullptr;
  CancelSource cancel;  // every wait of this connection uses cancel.token()
  Phase phase = Phase::Idle;
  const Transfer* sending = nullptr;  // set while a body transfer runs (send-timeout watchdog)
  std::uint64_t seen_bytes = 0;
  Clock::time_point last_progress{};
  // While the connection waits for a request's first byte (keep-alive or header timeout): when
  // the watchdog closes it. The wait arms no timer of its own, so a request costs no timer-heap
  // insert and remove; the watchdog's tick bounds how late the close comes.
  Clock::time_point idle_deadline = Clock::time_point::max();
};

class Worker {
 public:
  Worker(Loop& loop, Server& server);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  Loop& loop() noexcept { return *loop_; }
  Server& server() noexcept { return *server_; }
  // The Site new connections get: the Server's current one, picked up after a reload (the
  // access-log buffer is flushed to the old log first). A connection copies the shared_ptr to
  // pin it: one atomic increment per connection, not per request.
  const std::shared_ptr<const Site>& site();
  // The options of the worker's current Site (timeouts of the watchdog, the access log).
  const ServerOptions& options() const noexcept { return site_->options(); }
  WorkerMetrics& metrics() noexcept { return *metrics_; }
  Engine& engine() noexcept { return engine_; }
  FileCache& file_cache() noexcept { return file_cache_; }  // this loop's open files
  TaskGroup& conns() noexcept { return conns_; }
  bool draining() const noexcept { return draining_; }

  void add(ConnState& c) noexcept;
  void remove(ConnState& c) noexcept;
  // Shutdown: idle and reading connections are cancelled now; senders finish their response.
  void start_draining();
  void cancel_all();
  // Cancels connections whose transfer moved nothing for send_timeout, and those waiting for a
  // request past their idle_deadline.
  void check_timeouts(Clock::time_point now);
  // How often the watchdog calls check_timeouts: a quarter of the shortest timeout, within
  // 20 ms .. 1 s.
  Clock::duration watchdog_tick() const noexcept;

  // Appends one access-log line (no-op without --access-log); flushed at 32 KiB or by flush().
  // `trace`: the request's trace when the server traces; its id ends the line.
  void log_request(const TraceContext* trace, std::string_view peer, std::string_view method,
                   std::string_view target, int minor, int status, std::uint64_t bytes,
                   Clock::duration took);
  void flush_log();
  // Copies the engine's pool and mapping-cache stats into the metrics (this thread only).
  void sample_pools() noexcept;

 private:
  Loop* loop_;
  Server* server_;
  std::shared_ptr<const Site> site_;
  std::uint64_t generation_;
  WorkerMetrics* metrics_;
  Engine engine_;
  FileCache file_cache_;  // before conns_: responses in flight hold references into it
  TaskGroup conns_;
  ConnState head_;  // sentinel of a circular list
  bool draining_ = false;
  std::string log_;  // reserved once; appends do not allocate until a flush is overdue
};

// One connection's life: requests, responses, keep-alive, lingering close. Counted in by the
// caller (Server::try_enter) and out by the task.
Task<void> serve_connection(Worker& w, UniqueFd fd);
// Beyond max_connections: a canned 503 and a lingering close (bounded to a second).
Task<void> refuse_connection(Worker& w, UniqueFd fd);

}  // namespace zcnet::http

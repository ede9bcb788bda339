// LoopGroup: one loop per thread, shared-nothing (each thread its own backend, buffers and
// tasks). Typically each loop accepts on its own SO_REUSEPORT listener for the same port, so
// the kernel spreads connections across threads.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/sys/error.hpp"

namespace zcnet {

struct LoopGroupOptions {
  std::size_t threads = 0;  // 0: std::thread::hardware_concurrency()
  LoopOptions loop;
};

class LoopGroup {
 public:
  using Main = std::function<Task<void>(Loop& loop, std::size_t index)>;

  explicit LoopGroup(LoopGroupOptions options = {});
  ~LoopGroup();  // request_shutdown() then join() if still running (exceptions dropped there)
  LoopGroup(const LoopGroup&) = delete;
  LoopGroup& operator=(const LoopGroup&) = delete;

  std::size_t size() const noexcept { return threads_; }
  // Creates every loop (fails if one cannot be created), then runs main(loop, index) on each
  // loop's own thread until it returns.
  Result<void> start(Main main);
  // Waits for every thread; rethrows the first exception a main let escape.
  void join();
  // Thread-safe: cancels every loop's shutdown_token() (graceful), or stops them (abrupt).
  void request_shutdown() noexcept;
  void stop() noexcept;

 private:
  LoopGroupOptions options_;
  std::size_t threads_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::exception_ptr failure_;
};

}  // namespace zcnet

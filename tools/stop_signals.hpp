// SIGINT/SIGTERM for the long-running commands (recv, serve): the first signal starts a graceful
// shutdown, a second one stops at once.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace zcnet::cli {

// The constructor blocks SIGINT and SIGTERM in the calling thread (threads started later inherit
// the mask); listen() then takes them on a waiter thread with sigtimedwait, which calls `graceful`
// for the first signal and `immediate` for any later one. Call listen() once what the callbacks
// touch is built (a signal that came before waits, blocked, until then). A waiter thread rather
// than a handler: the callbacks may take locks, and a thread parked in io_uring_enter needs no
// async-signal-safe path to wake (ThreadSanitizer, for one, defers handlers while a thread sits in
// a raw syscall).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();  // joins the waiter and unblocks the signals
  void listen(std::function<void()> graceful, std::function<void()> immediate);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int seen() const noexcept { return seen_.load(); }

 private:
  sigset_t set_;
  std::atomic<bool> finished_{false};
  std::atomic<int> seen_{0};
  std::thread waiter_;
};

}  // namespace zcnet::cli

// SIGINT/SIGTERM for the long-running commands (recv, serve): the first signal starts a graceful
// shutdown, a second one stops at once. Optionally SIGHUP too: a reload, any number of times.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace zcnet::cli {

// The constructor blocks SIGINT and SIGTERM (and SIGHUP with `take_sighup`) in the calling
// thread (threads started later inherit the mask); listen() then takes them on a waiter thread
// with sigtimedwait, which calls `graceful` for the first stop signal, `immediate` for any later
// one and `reload` for each SIGHUP. Call listen() once what the callbacks touch is built (a
// signal that came before waits, blocked, until then). A waiter thread rather than a handler:
// the callbacks may take locks and read files, and a thread parked in io_uring_enter needs no
// async-signal-safe path to wake (ThreadSanitizer, for one, defers handlers while a thread sits in
// a raw syscall).
class StopSignals {
 public:
  explicit StopSignals(bool take_sighup = false);
  ~StopSignals();  // close(), then unblocks the signals
  void listen(std::function<void()> graceful, std::function<void()> immediate,
              std::function<void()> reload = {});
  // Stops and joins the waiter: no callback runs after this returns.
  void close();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int seen() const noexcept { return seen_.load(); }  // stop signals (SIGHUP not counted)

 private:
  sigset_t set_;
  std::atomic<bool> finished_{false};
  std::atomic<int> seen_{0};
  std::thread waiter_;
};

}  // namespace zcnet::cli

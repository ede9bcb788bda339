// Private: the one interface every loop backend implements (epoll reactor, io_uring proactor,
// poll reactor). The loop owns timers, tasks and cancellation; a backend owns fds and the kernel.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/loop_op.hpp"
#include "zcnet/sys/error.hpp"

namespace zcnet::detail {

class Backend {
 public:
  virtual ~Backend() = default;
  // Tries `op` without blocking (reactors: the syscall itself; proactor: a queued multishot
  // result). True if op.res is final; false means submit() it.
  virtual bool try_now(Op& op) = 0;
  // Starts `op`; the backend calls loop.complete(op) exactly once when it is over.
  virtual void submit(Op& op) = 0;
  // True if the backend enforces op.deadline itself (io_uring linked timeouts).
  virtual bool native_deadline(const Op& op) const noexcept = 0;
  // Ends a submitted op early: it completes with -ECANCELED (now or when the kernel says so), or
  // with its real result if that raced ahead.
  virtual void cancel(Op& op) = 0;
  // Waits for events up to `timeout` (nullopt: no limit, zero: just look) and completes ops.
  virtual void wait(std::optional<std::chrono::nanoseconds> timeout) = 0;
  // Thread-safe: makes a blocked wait() return.
  virtual void wake() noexcept = 0;
  // Drops everything kept for `fd`; its pending ops complete with -ECANCELED.
  virtual void forget(int fd) = 0;
  // The caller saw EAGAIN on `fd` itself: forget remembered readiness for `dir` (reactors).
  virtual void would_block(int, Direction) noexcept {}
  // Drops what is kept for `fd` only if no op waits on it (reactors: epoll_ctl DEL).
  virtual void release_if_idle(int) {}
  // Before the loop destroys suspended tasks: afterwards the kernel touches no op or buffer.
  virtual void drain() = 0;
  virtual LoopStats stats() const noexcept = 0;
};

// Direction an op waits for in a readiness-based backend.
inline Direction wait_direction(const Op& op) noexcept {
  switch (op.code) {
    case OpCode::Poll:
      return op.dir;
    case OpCode::Connect:
    case OpCode::Write:
    case OpCode::SendZc:
      return Direction::Write;
    default:
      return Direction::Read;
  }
}

// One per OS: backend_select_linux.cpp / backend_select_portable.cpp.
BackendKind resolve_backend(BackendKind requested) noexcept;
Result<std::unique_ptr<Backend>> make_backend(BackendKind kind, Loop& loop,
                                              const LoopOptions& options);

Result<std::unique_ptr<Backend>> make_poll_reactor(Loop& loop, const LoopOptions& options);

}  // namespace zcnet::detail

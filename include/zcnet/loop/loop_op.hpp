// Internal to the loop (namespace detail): one pending operation, embedded in the awaiter that
// started it, so no operation allocates. Public only because awaiters live in coroutine frames.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "zcnet/loop/cancel.hpp"
#include "zcnet/sys/readiness.hpp"

namespace zcnet {
class Loop;
}

namespace zcnet::detail {

using Clock = std::chrono::steady_clock;

struct TimerNode {
  static constexpr std::size_t kNotArmed = std::numeric_limits<std::size_t>::max();
  Clock::time_point when{};
  std::uint64_t seq = 0;          // ties broken by arming order: timers fire in order
  std::size_t index = kNotArmed;  // position in the heap
  void (*fire)(TimerNode&) = nullptr;
  void* owner = nullptr;  // what fire acts on
  bool armed() const noexcept { return index != kNotArmed; }
};

// Who gets a received buffer back when its RecvBuffer dies (a backend's buffer ring or pool).
class BufferOwner {
 public:
  virtual ~BufferOwner() = default;
  virtual void give_back(std::uint32_t id) noexcept = 0;
};

enum class OpCode : std::uint8_t {
  Poll,     // readiness of fd for `dir`
  Accept,   // res = new fd (nonblocking, close-on-exec)
  Connect,  // addr/addrlen
  Read,     // into buf/len
  Write,    // from buf/len; send(MSG_NOSIGNAL) on sockets, write() otherwise
  Recv,     // into a loop-owned buffer (io_uring: multishot recv + provided-buffer ring)
  SendZc,   // io_uring send_zc; completes after the kernel's notification (buffer reusable)
  Splice,   // fd -> fd_out (one a pipe), up to len bytes; never waits: EAGAIN is its result
  Sleep,    // until deadline
  Yield,    // back of the ready queue
};

// Invariant: while `waiter` is set and the op is not complete, the op is referenced by exactly
// one of: a backend (submitted), the loop's ready queue (completing). Its memory (the awaiter in
// a coroutine frame) stays put until the waiter resumes.
struct Op {
  OpCode code = OpCode::Poll;
  Direction dir = Direction::Read;
  bool cancel_requested = false;
  bool timed_out = false;
  bool started = false;     // reactor connect: connect() already issued
  bool not_socket = false;  // write to a non-socket: use write() instead of send()
  std::uint8_t list = 0;    // which backend list holds the op (backend-defined, 0 = none)
  int fd = -1;
  int fd_out = -1;  // Splice: where the bytes go
  std::byte* buf = nullptr;
  std::size_t len = 0;
  const void* addr = nullptr;
  unsigned addrlen = 0;
  Clock::time_point deadline = Clock::time_point::max();
  int res = 0;  // >= 0 result, < 0 negated errno
  // Recv: the buffer handed over (owner->give_back(buf_id) when done with it).
  BufferOwner* owner = nullptr;
  std::uint32_t buf_id = 0;
  std::coroutine_handle<> waiter;
  Loop* loop = nullptr;
  CancelToken token;
  CancelLink cancel_link;
  TimerNode timer;     // deadline kept by the loop when the backend has no native one
  Op* prev = nullptr;  // backend wait lists
  Op* next = nullptr;
  long long kernel_ts[2] = {0, 0};  // io_uring linked timeout (must live until submitted)
  std::uint32_t cqes_pending = 0;   // io_uring: terminal CQEs still expected
};

}  // namespace zcnet::detail

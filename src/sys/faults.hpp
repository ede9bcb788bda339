// Fault injection at the syscall seam, for tests. In a build with ZCNET_FAULTS (the asan and tsan
// presets) every sys wrapper asks inject() before its syscall, and a thread that armed a Plan
// gets, by seed, interrupted calls (EINTR), short reads and writes, EAGAIN on the calls that can
// find a socket or pipe not ready, and the errors the kernel may return from that call (ENOBUFS,
// ENOMEM, EPIPE, ECONNRESET) in place of the call. The calls that make a descriptor (accept, the
// file opens, pipe2, socket) ask inject_fd() and may fail with EMFILE or ENFILE. The event loop's
// own reads, writes and accepts are faulted too. Without ZCNET_FAULTS both are empty inline
// functions and nothing is compiled in.
//
// Arming is per thread, so a test's peer threads (receivers, writers) see no faults, and the same
// seed on the same sequence of calls injects the same faults: a failure replays from its seed.
// A made-up EAGAIN says "not ready" of a socket that is ready (and a made-up short read or write
// may be taken for "now empty" or "now full"), and under edge-triggered readiness no edge may come
// to end the wait that follows. So the epoll/poll reactor asks
// take_injected_eagain(fd) before it waits for readiness and, after an EAGAIN made up for that
// descriptor or for the call just before the wait, reports it ready at once (the caller retries
// the call), as a kernel EAGAIN that raced a new edge would. The reactor's own calls get no EAGAIN
// (it would wait on them itself).
//
//   sys::faults::Armed armed({.seed = 42, .one_in = 8});  // this thread, until armed goes
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::sys::faults {

enum class Fault : std::uint8_t {
  Eintr,
  Short,
  Enobufs,
  Enomem,
  Epipe,
  Econnreset,
  Eagain,
  Emfile,
  Enfile
};
inline constexpr std::size_t kFaults = 9;
inline constexpr std::uint32_t kAllFaults = (1u << kFaults) - 1;

// The calls that make a descriptor, for inject_fd().
enum class FdCall : std::uint8_t { Accept, Open, Pipe, Socket };

// A plan's mask bit for one fault (Plan::kinds) or one descriptor call (Plan::fd_calls).
constexpr std::uint32_t bit(Fault f) noexcept {
  return 1u << static_cast<unsigned>(f);
}
constexpr std::uint32_t bit(FdCall c) noexcept {
  return 1u << static_cast<unsigned>(c);
}

struct Plan {
  std::uint64_t seed = 1;
  std::uint32_t one_in = 8;          // each call is faulted with probability 1 / one_in
  std::uint32_t kinds = kAllFaults;  // bit i set: Fault i may be injected
  std::uint32_t fd_calls = 0xf;      // bit i set: FdCall i may fail (EMFILE, ENFILE)
};

struct Counts {
  std::uint64_t calls = 0;  // calls that asked while armed
  std::uint64_t injected[kFaults] = {};
  std::uint64_t errors() const noexcept {  // faults that failed a call (not EINTR, Short, EAGAIN)
    return injected[2] + injected[3] + injected[4] + injected[5] + injected[7] + injected[8];
  }
  std::uint64_t total() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t i : injected) n += i;
    return n;
  }
};

// The descriptors a call may find not ready (a made-up EAGAIN names them); none: no EAGAIN.
struct Fds {
  int a = -1;
  int b = -1;
};

// What a wrapper does: fail with `err` without calling, or call with `len` bytes.
struct Injected {
  int err = 0;
  std::size_t len = 0;
};

#if ZCNET_FAULTS
inline constexpr bool kEnabled = true;

// Arms `plan` on the calling thread for the object's life (one at a time per thread).
class Armed {
 public:
  explicit Armed(const Plan& plan) noexcept;
  ~Armed();
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;
  const Counts& counts() const noexcept { return counts_; }

 private:
  friend Injected inject(Syscall call, std::size_t len, Fds fds) noexcept;
  friend int inject_fd(FdCall call) noexcept;
  friend struct ProcessArmed;
  Armed() noexcept = default;  // unarmed: for the per-thread state of arm_process()
  Plan plan_;
  std::uint64_t state_ = 0;
  Counts counts_;
};

// `len`: the bytes asked for (0 where the call has no single length, as writev: never shortened).
Injected inject(Syscall call, std::size_t len, Fds fds) noexcept;

// 0 (make the descriptor), or EMFILE or ENFILE to fail with instead.
int inject_fd(FdCall call) noexcept;

// True once after a call of this thread on `fd`, or its last call, had a made-up EAGAIN or short
// count.
bool take_injected_eagain(int fd) noexcept;

// Arms every thread of the process that has no Armed of its own, each with a stream of its own
// drawn from `plan.seed` and the order in which threads first make a call. A ZCNET_FAULTS build
// does this at start when the environment has ZCNET_FAULTS=SEED:ONE_IN (how the tests fault a
// whole `zcnet serve`).
void arm_process(const Plan& plan) noexcept;
// Ends arm_process(): threads without an Armed of their own make their calls unfaulted again.
void disarm_process() noexcept;
#else
inline constexpr bool kEnabled = false;
inline Injected inject(Syscall, std::size_t len, Fds) noexcept {
  return {0, len};
}
inline int inject_fd(FdCall) noexcept {
  return 0;
}
inline bool take_injected_eagain(int) noexcept {
  return false;
}
#endif

}  // namespace zcnet::sys::faults

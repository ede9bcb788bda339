// Fault injection at the syscall seam, for tests. In a build with ZCNET_FAULTS (the asan and tsan
// presets) every sys wrapper asks inject() before its syscall, and a thread that armed a Plan
// gets, by seed, interrupted calls (EINTR), short reads and writes, and the errors the kernel may
// return from that call (ENOBUFS, ENOMEM, EPIPE, ECONNRESET) in place of the call. Without
// ZCNET_FAULTS inject() is an empty inline function and nothing is compiled in.
//
// Arming is per thread, so a test's peer threads (receivers, writers) see no faults, and the same
// seed on the same sequence of calls injects the same faults: a failure replays from its seed.
// EAGAIN is not injected: under edge-triggered readiness a made-up EAGAIN on a ready socket waits
// for an edge that never comes, a state the kernel itself does not produce.
//
//   sys::faults::Armed armed({.seed = 42, .one_in = 8});  // this thread, until armed goes
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::sys::faults {

enum class Fault : std::uint8_t { Eintr, Short, Enobufs, Enomem, Epipe, Econnreset };
inline constexpr std::size_t kFaults = 6;
inline constexpr std::uint32_t kAllFaults = (1u << kFaults) - 1;

struct Plan {
  std::uint64_t seed = 1;
  std::uint32_t one_in = 8;          // each call is faulted with probability 1 / one_in
  std::uint32_t kinds = kAllFaults;  // bit i set: Fault i may be injected
};

struct Counts {
  std::uint64_t calls = 0;  // calls that asked while armed
  std::uint64_t injected[kFaults] = {};
  std::uint64_t errors() const noexcept {  // faults that failed a call (not EINTR or Short)
    return injected[2] + injected[3] + injected[4] + injected[5];
  }
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
  friend Injected inject(Syscall call, std::size_t len) noexcept;
  friend struct ProcessArmed;
  Armed() noexcept = default;  // unarmed: for the per-thread state of arm_process()
  Plan plan_;
  std::uint64_t state_ = 0;
  Counts counts_;
};

// `len`: the bytes asked for (0 where the call has no single length, as writev: never shortened).
Injected inject(Syscall call, std::size_t len) noexcept;

// Arms every thread of the process that has no Armed of its own, each with a stream of its own
// drawn from `plan.seed` and the order in which threads first make a call. A ZCNET_FAULTS build
// does this at start when the environment has ZCNET_FAULTS=SEED:ONE_IN (how the tests fault a
// whole `zcnet serve`).
void arm_process(const Plan& plan) noexcept;
#else
inline constexpr bool kEnabled = false;
inline Injected inject(Syscall, std::size_t len) noexcept {
  return {0, len};
}
#endif

}  // namespace zcnet::sys::faults

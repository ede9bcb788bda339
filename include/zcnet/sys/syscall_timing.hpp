// Syscall timing hook: every synchronous syscall the sys wrappers make (read, write, send, recv,
// sendfile, splice, tee, ...) is timed while a sink is installed, and costs one relaxed load when
// none is. The observe layer installs the sink that keeps per-thread histograms
// (zcnet/observe/syscall_timing.hpp); io_uring operations are not syscalls of their own and are
// not timed.
//
//   IoResult sendfile(...) noexcept {
//     SyscallTimer t(Syscall::Sendfile);  // reports the time to the sink when it goes
//     return io_result(::sendfile(...));
//   }
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "zcnet/sys/observe_switch.hpp"

namespace zcnet::sys {

enum class Syscall : std::uint8_t {
  Read,
  Pread,
  Write,
  Pwrite,
  Writev,
  Send,
  Sendmsg,
  Recv,
  Sendfile,
  CopyFileRange,
  Splice,
  Tee,
};
inline constexpr std::size_t kSyscalls = 12;
std::string_view to_string(Syscall s) noexcept;  // the syscall's name: "sendmsg", "splice", ...

// Receives one syscall's duration in nanoseconds on the thread that made it.
using SyscallSink = void (*)(Syscall, std::uint64_t nanoseconds) noexcept;
// Installs `sink` (nullptr: timing off). Calls in flight may still report to the previous one.
void set_syscall_sink(SyscallSink sink) noexcept;
SyscallSink syscall_sink() noexcept;

namespace detail {
extern std::atomic<SyscallSink> g_syscall_sink;
std::uint64_t monotonic_ns() noexcept;
}  // namespace detail

class SyscallTimer {
 public:
  explicit SyscallTimer(Syscall s) noexcept {
    if constexpr (kObserve) {
      sink_ = detail::g_syscall_sink.load(std::memory_order_relaxed);
      if (sink_) {
        call_ = s;
        start_ = detail::monotonic_ns();
      }
    }
  }
  ~SyscallTimer() {  // leaves errno as the syscall set it
    if constexpr (kObserve) {
      if (sink_) {
        const int saved = errno;
        sink_(call_, detail::monotonic_ns() - start_);
        errno = saved;
      }
    }
  }
  SyscallTimer(const SyscallTimer&) = delete;
  SyscallTimer& operator=(const SyscallTimer&) = delete;

 private:
  SyscallSink sink_ = nullptr;
  Syscall call_ = Syscall::Read;
  std::uint64_t start_ = 0;
};

}  // namespace zcnet::sys

#include "zcnet/sys/syscall_timing.hpp"

#include <time.h>

#include <array>

namespace zcnet::sys {

namespace detail {
std::atomic<SyscallSink> g_syscall_sink{nullptr};

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace detail

std::string_view to_string(Syscall s) noexcept {
  static constexpr std::array<std::string_view, kSyscalls> names = {
      "read",    "pread", "write",    "pwrite",          "writev", "send",
      "sendmsg", "recv",  "sendfile", "copy_file_range", "splice", "tee"};
  const auto i = static_cast<std::size_t>(s);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

void set_syscall_sink(SyscallSink sink) noexcept {
  detail::g_syscall_sink.store(sink, std::memory_order_relaxed);
}

SyscallSink syscall_sink() noexcept {
  return detail::g_syscall_sink.load(std::memory_order_relaxed);
}

}  // namespace zcnet::sys

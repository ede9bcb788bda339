// What one transfer did: every byte and every syscall counted.
#pragma once

#include <chrono>
#include <cstdint>

namespace zcnet {

struct Stats {
  std::uint64_t bytes = 0;              // bytes delivered to the sink
  std::uint64_t syscalls = 0;           // data-path syscalls (io_uring: one per submit/wait)
  std::uint64_t bytes_copied_user = 0;  // bytes that passed through a user-space buffer
  std::uint64_t zc_completions = 0;     // zero-copy notifications received from the kernel
  std::uint64_t zc_copied = 0;          // of those, flagged "copied anyway" by the kernel
  std::uint64_t waits = 0;              // times a step stopped on EAGAIN / pending completion
  std::uint64_t fallbacks = 0;          // strategies abandoned for the next one
  std::chrono::nanoseconds elapsed{0};  // wall time from first step to done
  std::chrono::nanoseconds waited{0};   // of that, time spent waiting for readiness (the loop's)

  Stats& operator+=(const Stats& o) noexcept {
    bytes += o.bytes;
    syscalls += o.syscalls;
    bytes_copied_user += o.bytes_copied_user;
    zc_completions += o.zc_completions;
    zc_copied += o.zc_copied;
    waits += o.waits;
    fallbacks += o.fallbacks;
    elapsed += o.elapsed;
    waited += o.waited;
    return *this;
  }
};

}  // namespace zcnet

// Kernel performance counters for one thread (perf_event_open): the software ones this VM has
// (context switches, page faults, CPU migrations, task clock) and the hardware ones it may not
// (LLC misses, the closest per-thread proxy for memory bandwidth). A counter the kernel refuses
// is reported as "unavailable, because ..." with the errno, never guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zcnet/sys/fd.hpp"

namespace zcnet::cli {

struct PerfReading {
  std::string name;                    // "context_switches", "llc_misses", ...
  std::optional<std::uint64_t> value;  // nullopt: unavailable
  std::string unavailable;             // why, when value is nullopt
};

class ThreadPerfCounters {
 public:
  // Opens every counter for the calling thread, enabled from now on.
  ThreadPerfCounters();
  ThreadPerfCounters(ThreadPerfCounters&&) noexcept = default;
  ThreadPerfCounters& operator=(ThreadPerfCounters&&) noexcept = default;
  // Current values since construction.
  std::vector<PerfReading> read() const;

 private:
  struct Counter {
    std::string name;
    UniqueFd fd;
    std::string unavailable;
  };
  std::vector<Counter> counters_;
};

}  // namespace zcnet::cli

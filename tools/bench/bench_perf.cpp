#include "bench/bench_perf.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <fstream>

#include "zcnet/sys/error.hpp"

#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace zcnet::cli {

namespace {

#if defined(__linux__)
std::string paranoid_level() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  std::string v;
  if (in >> v) return v;
  return "?";
}

// One counting event for the calling thread on any CPU; -1 and errno on refusal.
int open_counter(std::uint32_t type, std::uint64_t config) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = type;
  attr.config = config;
  attr.exclude_hv = 1;
  return static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}
#endif

}  // namespace

ThreadPerfCounters::ThreadPerfCounters() {
#if defined(__linux__)
  struct Spec {
    const char* name;
    std::uint32_t type;
    std::uint64_t config;
    const char* what;
  };
  const Spec specs[] = {
      {"context_switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, "software"},
      {"cpu_migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS, "software"},
      {"page_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, "software"},
      {"task_clock_ns", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, "software"},
      {"llc_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, "hardware"},
      {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, "hardware"},
  };
  for (const Spec& s : specs) {
    Counter c{s.name, UniqueFd(open_counter(s.type, s.config)), {}};
    if (!c.fd) {
      const int e = errno;
      c.unavailable = fmt::format(
          "unavailable, because perf_event_open({} counter) failed with {} (perf_event_paranoid "
          "= {}{})",
          s.what, errno_name(e), paranoid_level(),
          e == ENOENT || e == EOPNOTSUPP ? "; this machine exposes no such counter" : "");
    }
    counters_.push_back(std::move(c));
  }
  counters_.push_back(
      {"memory_bandwidth", UniqueFd(),
       "unavailable, because per-thread memory bandwidth needs uncore (IMC) counters, which "
       "perf_event_open does not offer per thread; llc_misses x 64 B is the proxy"});
#else
  counters_.push_back({"all", UniqueFd(), "unavailable, because perf_event_open is Linux-only"});
#endif
}

std::vector<PerfReading> ThreadPerfCounters::read() const {
  std::vector<PerfReading> out;
  for (const Counter& c : counters_) {
    PerfReading r{c.name, std::nullopt, c.unavailable};
    if (c.fd) {
      std::uint64_t v = 0;
      if (::read(c.fd.get(), &v, sizeof v) == static_cast<ssize_t>(sizeof v))
        r.value = v;
      else
        r.unavailable = fmt::format("unavailable, because reading the counter failed with {}",
                                    errno_name(errno));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace zcnet::cli

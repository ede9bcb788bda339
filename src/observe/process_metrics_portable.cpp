// Portable: CPU seconds and the fd limit from getrusage / getrlimit only.
#include <sys/resource.h>

#include "zcnet/observe/process_metrics.hpp"

namespace zcnet {

void write_process_metrics(PrometheusText& out) {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", {}, sec(ru.ru_utime) + sec(ru.ru_stime));
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out.sample("process_max_fds", {}, static_cast<double>(rl.rlim_cur));
}

}  // namespace zcnet

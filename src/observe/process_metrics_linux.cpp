// Linux: getrusage for CPU, /proc/self/statm for resident memory, /proc/self/fd for open fds,
// /proc/self/stat for the start time (scrape path only: a few small reads).
#include <dirent.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "zcnet/observe/process_metrics.hpp"

namespace zcnet {

namespace {

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  unsigned long long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory stream's own fd
}

// Field 22 of /proc/self/stat: start time in clock ticks after boot.
double start_time_seconds() {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
  }
  struct sysinfo si {};
  ::sysinfo(&si);
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double boot = static_cast<double>(std::time(nullptr)) - static_cast<double>(si.uptime);
  return boot + std::stod(field.empty() ? "0" : field) / ticks;
}

}  // namespace

void write_process_metrics(PrometheusText& out) {
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", {}, cpu_seconds());
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", {}, resident_bytes());
  out.family("process_open_fds", "gauge", "Number of open file descriptors.");
  out.sample("process_open_fds", {}, open_fds());
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out.sample("process_max_fds", {}, static_cast<double>(rl.rlim_cur));
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, start_time_seconds());
}

}  // namespace zcnet

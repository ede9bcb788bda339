#include "report.hpp"

#include <fmt/format.h>

namespace zcnet::cli {

Usage Usage::now() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return of(ru);
}

Usage Usage::of(const rusage& ru) {
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return {sec(ru.ru_utime), sec(ru.ru_stime), ru.ru_nvcsw, ru.ru_nivcsw};
}

Usage Usage::since(const Usage& start) const {
  return {user - start.user, sys - start.sys, voluntary_switches - start.voluntary_switches,
          involuntary_switches - start.involuntary_switches};
}

void print_report(const Report& r, bool json) {
  const double gib = static_cast<double>(r.stats.bytes) / (1u << 30);
  const double rate = r.seconds > 0 ? static_cast<double>(r.stats.bytes) / r.seconds : 0;
  const Usage& u = r.usage;
  if (json) {
    nlohmann::json j{{"role", r.role},
                     {"bytes", r.stats.bytes},
                     {"seconds", r.seconds},
                     {"bytes_per_second", rate},
                     {"strategy", r.strategy},
                     {"reason", r.reason},
                     {"syscalls", r.stats.syscalls},
                     {"bytes_copied_user", r.stats.bytes_copied_user},
                     {"zc_completions", r.stats.zc_completions},
                     {"zc_copied", r.stats.zc_copied},
                     {"fallbacks", r.stats.fallbacks},
                     {"cpu_user_seconds", u.user},
                     {"cpu_system_seconds", u.sys},
                     {"cpu_seconds_per_gib", gib > 0 ? (u.user + u.sys) / gib : 0.0},
                     {"voluntary_context_switches", u.voluntary_switches},
                     {"involuntary_context_switches", u.involuntary_switches}};
    j.update(r.extra);
    fmt::print("{}\n", j.dump());
    std::fflush(stdout);
    return;
  }
  fmt::print("{}: {} bytes in {:.3f} s = {:.2f} GB/s via {} ({})\n", r.role, r.stats.bytes,
             r.seconds, rate / 1e9, r.strategy, r.reason);
  fmt::print(
      "  syscalls {}, copied in user space {} B, zero-copy completions {} ({} copied "
      "anyway), CPU user {:.3f} s sys {:.3f} s, context switches {} + {} involuntary\n",
      r.stats.syscalls, r.stats.bytes_copied_user, r.stats.zc_completions, r.stats.zc_copied,
      u.user, u.sys, u.voluntary_switches, u.involuntary_switches);
  std::fflush(stdout);
}

}  // namespace zcnet::cli

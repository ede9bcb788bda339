// What `zcnet send` and `zcnet recv` print: one line pair for people, one JSON object for tools.
#pragma once

#include <sys/resource.h>

#include <nlohmann/json.hpp>
#include <string>

#include "zcnet/transfer/stats.hpp"

namespace zcnet::cli {

// Resources this process used so far (getrusage(RUSAGE_SELF)), or a difference of two samples.
struct Usage {
  double user = 0, sys = 0;  // CPU seconds
  long voluntary_switches = 0, involuntary_switches = 0;

  static Usage now();
  static Usage of(const rusage& ru);  // e.g. a child's, from wait4
  Usage since(const Usage& start) const;
};

struct Report {
  std::string role;  // "send" or "recv"
  Stats stats;       // stats.bytes: payload bytes only (no hello)
  double seconds = 0;
  Usage usage;
  std::string strategy, reason;
  nlohmann::json extra = nlohmann::json::object();  // more keys for the JSON object
};

// JSON: one object per call with every key bench/e2e/strategies.py and the tests read (role,
// bytes, seconds, bytes_per_second, strategy, reason, syscalls, bytes_copied_user,
// zc_completions, zc_copied, fallbacks, cpu_*), the context switches, then `extra`.
void print_report(const Report& r, bool json);

}  // namespace zcnet::cli

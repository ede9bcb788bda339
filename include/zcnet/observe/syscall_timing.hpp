// Per-syscall timing histograms, switched on and off at run time (the admin endpoint's
// PUT /syscall-timing): while on, every synchronous syscall the engine and the loops make through
// the sys wrappers records its duration into a histogram of the calling thread, merged on scrape
// as zcnet_syscall_duration_seconds{syscall=...}. While off, a syscall pays one relaxed load.
// A thread's histograms are made on its first timed call of each kind and outlive the thread (the
// counts are totals since the process started; switching off keeps them).
//
//   set_syscall_timing(true);
//   ... traffic ...
//   write_syscall_metrics(prometheus_text);
#pragma once

#include <cstdint>

#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet {

class PrometheusText;
class Histogram;

void set_syscall_timing(bool on) noexcept;  // no effect in a build without observability
bool syscall_timing() noexcept;

// The merged histogram (nanoseconds) of one syscall over every thread that made it.
void syscall_histogram(sys::Syscall which, Histogram& into);

// zcnet_syscall_timing_enabled and, for each syscall timed at least once,
// zcnet_syscall_duration_seconds{syscall=...}.
void write_syscall_metrics(PrometheusText& p);

}  // namespace zcnet

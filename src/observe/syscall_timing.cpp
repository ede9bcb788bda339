#include "zcnet/observe/syscall_timing.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "zcnet/observe/histogram.hpp"
#include "zcnet/observe/prometheus.hpp"

namespace zcnet {

namespace {

// One thread's histograms, one per syscall, each made on that syscall's first timed call and
// published with a release store for the scrape to find.
struct ThreadTimes {
  std::array<std::atomic<Histogram*>, sys::kSyscalls> by_call{};
};

// Every thread's histograms; never freed, so a scrape can read a thread's after it exited (and
// nothing races the static destructors at exit).
struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<ThreadTimes>> threads;
  std::vector<std::unique_ptr<Histogram>> histograms;
};
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

thread_local ThreadTimes* tl_times = nullptr;

void record(sys::Syscall which, std::uint64_t ns) noexcept {
  const auto i = static_cast<std::size_t>(which);
  if (i >= sys::kSyscalls) return;
  ThreadTimes* t = tl_times;
  Histogram* h = t ? t->by_call[i].load(std::memory_order_relaxed) : nullptr;
  if (!h) {  // this thread's first call of this kind: a lock and an allocation, once
    try {
      Registry& r = registry();
      std::lock_guard lock(r.mu);
      if (!t) {
        r.threads.push_back(std::make_unique<ThreadTimes>());
        t = tl_times = r.threads.back().get();
      }
      r.histograms.push_back(std::make_unique<Histogram>());
      h = r.histograms.back().get();
      t->by_call[i].store(h, std::memory_order_release);
    } catch (...) {
      return;  // out of memory: this call goes untimed
    }
  }
  h->record(ns);
}

// Nanosecond bounds in seconds: 1 us to 100 ms.
constexpr double kBounds[] = {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001,
                              0.00025,  0.0005,    0.001,    0.0025,  0.01,     0.1};

}  // namespace

void set_syscall_timing(bool on) noexcept {
  if constexpr (kObserve) sys::set_syscall_sink(on ? &record : nullptr);
}

bool syscall_timing() noexcept {
  return sys::syscall_sink() == &record;
}

void syscall_histogram(sys::Syscall which, Histogram& into) {
  const auto i = static_cast<std::size_t>(which);
  if (i >= sys::kSyscalls) return;
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  for (const auto& t : r.threads)
    if (const Histogram* h = t->by_call[i].load(std::memory_order_acquire)) into.merge(*h);
}

void write_syscall_metrics(PrometheusText& p) {
  p.family("zcnet_syscall_timing_enabled", "gauge",
           "1 while per-syscall timing is on (admin endpoint: PUT /syscall-timing on|off).");
  p.sample("zcnet_syscall_timing_enabled", {}, std::uint64_t{syscall_timing() ? 1u : 0u});
  bool opened = false;
  auto merged = std::make_unique<Histogram>();  // fixed size, large: not on the stack
  for (std::size_t i = 0; i < sys::kSyscalls; ++i) {
    const auto which = static_cast<sys::Syscall>(i);
    merged->reset();
    syscall_histogram(which, *merged);
    if (merged->count() == 0) continue;
    if (!opened) {
      p.family("zcnet_syscall_duration_seconds", "histogram",
               "Time spent in each synchronous syscall while syscall timing was on, by syscall "
               "(io_uring operations are not timed).");
      opened = true;
    }
    p.histogram_samples("zcnet_syscall_duration_seconds",
                        PrometheusLabel{"syscall", to_string(which)}, *merged, kBounds, 1e9);
  }
}

}  // namespace zcnet

#include "sys/faults.hpp"

#if ZCNET_FAULTS

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace zcnet::sys::faults {

namespace {

thread_local Armed* t_armed = nullptr;
std::atomic<bool> g_process_armed{false};
Plan g_process_plan;
std::atomic<std::uint64_t> g_threads{0};

// The faults each call can meet in the kernel.
std::uint32_t possible(Syscall call) noexcept {
  constexpr auto bit = [](Fault f) { return 1u << static_cast<unsigned>(f); };
  const std::uint32_t base = bit(Fault::Eintr) | bit(Fault::Short);
  switch (call) {
    case Syscall::Read:
    case Syscall::Pread:
    case Syscall::Pwrite:
    case Syscall::CopyFileRange:
      return base;
    case Syscall::Recv:
      return base | bit(Fault::Econnreset);
    case Syscall::Write:
    case Syscall::Writev:
      return base | bit(Fault::Epipe);
    case Syscall::Send:
    case Syscall::Sendmsg:
      return base | bit(Fault::Enobufs) | bit(Fault::Epipe) | bit(Fault::Econnreset);
    case Syscall::Sendfile:
      return base | bit(Fault::Enomem) | bit(Fault::Epipe) | bit(Fault::Econnreset);
    case Syscall::Splice:
      return base | bit(Fault::Enomem) | bit(Fault::Epipe);
    case Syscall::Tee:
      return base | bit(Fault::Enomem);
  }
  return base;
}

std::uint64_t next(std::uint64_t& s) noexcept {  // splitmix64
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Armed::Armed(const Plan& plan) noexcept : plan_(plan), state_(plan.seed) {
  t_armed = this;
}

Armed::~Armed() {
  if (t_armed == this) t_armed = nullptr;
}

// The state a thread gets from arm_process(), made on its first call.
struct ProcessArmed {
  Armed armed;
  ProcessArmed() noexcept {
    armed.plan_ = g_process_plan;
    std::uint64_t n = g_threads.fetch_add(1) + 1;
    armed.state_ = g_process_plan.seed ^ next(n);
  }
};

void arm_process(const Plan& plan) noexcept {
  g_process_plan = plan;
  g_process_armed.store(true);
}

namespace {

// ZCNET_FAULTS=SEED:ONE_IN arms the whole process before main().
[[maybe_unused]] const bool g_from_environment = [] {
  const char* spec = std::getenv("ZCNET_FAULTS");
  if (!spec) return false;
  unsigned long long seed = 0, one_in = 0;
  if (std::sscanf(spec, "%llu:%llu", &seed, &one_in) != 2 || one_in == 0) {
    std::fprintf(stderr, "ZCNET_FAULTS=%s: want SEED:ONE_IN, as 7:64\n", spec);
    return false;
  }
  arm_process({.seed = seed, .one_in = static_cast<std::uint32_t>(one_in)});
  return true;
}();

}  // namespace

Injected inject(Syscall call, std::size_t len) noexcept {
  Armed* a = t_armed;
  if (!a) {
    if (!g_process_armed.load(std::memory_order_relaxed)) return {0, len};
    thread_local ProcessArmed mine;
    a = &mine.armed;
  }
  ++a->counts_.calls;
  const std::uint64_t r = next(a->state_);
  if (a->plan_.one_in == 0 || r % a->plan_.one_in != 0) return {0, len};
  std::uint32_t can = possible(call) & a->plan_.kinds;
  if (len < 2) can &= ~(1u << static_cast<unsigned>(Fault::Short));
  unsigned n = 0;
  for (std::uint32_t m = can; m; m &= m - 1) ++n;
  if (n == 0) return {0, len};
  unsigned pick = static_cast<unsigned>((r >> 32) % n);
  unsigned f = 0;
  for (std::uint32_t m = can;; m &= m - 1) {
    f = static_cast<unsigned>(__builtin_ctz(m));
    if (pick-- == 0) break;
  }
  ++a->counts_.injected[f];
  switch (static_cast<Fault>(f)) {
    case Fault::Eintr:
      return {EINTR, len};
    case Fault::Short:
      return {0, 1 + static_cast<std::size_t>(next(a->state_) % (len - 1))};
    case Fault::Enobufs:
      return {ENOBUFS, len};
    case Fault::Enomem:
      return {ENOMEM, len};
    case Fault::Epipe:
      return {EPIPE, len};
    case Fault::Econnreset:
      return {ECONNRESET, len};
  }
  return {0, len};
}

}  // namespace zcnet::sys::faults

#endif

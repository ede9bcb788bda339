#include "sys/faults.hpp"

#if ZCNET_FAULTS

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace zcnet::sys::faults {

namespace {

thread_local Armed* t_armed = nullptr;
// Descriptors given a made-up EAGAIN (or short count) and not yet waited for, by number, and
// whether the thread's next wait is owed one too: a caller may wait for another descriptor than
// the call named (a splice into a full pipe waits for the socket that drains it), and when it
// waits at once nothing else runs on the thread before. An entry nobody waits for costs one early
// wake-up of a later wait on that number.
thread_local std::vector<bool> t_owed;
thread_local bool t_next_wait_owed = false;

void owe(int fd) noexcept {
  if (fd < 0) return;
  const auto i = static_cast<std::size_t>(fd);
  if (i >= t_owed.size()) t_owed.resize(i + 64);  // fds are small: grows to the highest once
  t_owed[i] = true;
}

void owe(Fds fds) noexcept {
  if (fds.a < 0) return;  // the reactor's own call: it does not wait on it
  owe(fds.a);
  owe(fds.b);
  t_next_wait_owed = true;
}
std::atomic<bool> g_process_armed{false};
Plan g_process_plan;
std::atomic<std::uint64_t> g_threads{0};
std::atomic<std::uint64_t> g_generation{0};  // one per arm_process()

// The faults each call can meet in the kernel.
std::uint32_t possible(Syscall call) noexcept {
  const std::uint32_t base = bit(Fault::Eintr) | bit(Fault::Short);
  switch (call) {
    case Syscall::Read:
    case Syscall::Pread:
    case Syscall::Pwrite:
    case Syscall::CopyFileRange:
      return base;
    case Syscall::Recv:
      return base | bit(Fault::Eagain) | bit(Fault::Econnreset);
    case Syscall::Write:
    case Syscall::Writev:
      return base | bit(Fault::Epipe);
    case Syscall::Send:
    case Syscall::Sendmsg:
      return base | bit(Fault::Eagain) | bit(Fault::Enobufs) | bit(Fault::Epipe) |
             bit(Fault::Econnreset);
    case Syscall::Sendfile:
      return base | bit(Fault::Eagain) | bit(Fault::Enomem) | bit(Fault::Epipe) |
             bit(Fault::Econnreset);
    case Syscall::Splice:
      return base | bit(Fault::Eagain) | bit(Fault::Enomem) | bit(Fault::Epipe);
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

// Picks the fault of a faulted call among the set bits of `can` (nonzero).
unsigned pick(std::uint32_t can, std::uint64_t r) noexcept {
  unsigned n = 0;
  for (std::uint32_t m = can; m; m &= m - 1) ++n;
  unsigned k = static_cast<unsigned>((r >> 32) % n);
  for (std::uint32_t m = can;; m &= m - 1) {
    if (k-- == 0) return static_cast<unsigned>(__builtin_ctz(m));
  }
}

}  // namespace

Armed::Armed(const Plan& plan) noexcept : plan_(plan), state_(plan.seed) {
  t_armed = this;
}

Armed::~Armed() {
  if (t_armed == this) t_armed = nullptr;
}

// The state a thread gets from arm_process(), made on its first call (and again on its first
// call after the next arm_process()).
struct ProcessArmed {
  Armed armed;
  std::uint64_t generation = 0;
  void arm() noexcept {
    generation = g_generation.load();
    armed.plan_ = g_process_plan;
    armed.counts_ = {};
    std::uint64_t n = g_threads.fetch_add(1) + 1;
    armed.state_ = g_process_plan.seed ^ next(n);
  }
};

// Not for threads faulting meanwhile: the tests arm and disarm with the process at rest.
void arm_process(const Plan& plan) noexcept {
  g_process_plan = plan;
  g_threads.store(0);
  g_generation.fetch_add(1);
  g_process_armed.store(true);
}

void disarm_process() noexcept {
  g_process_armed.store(false);
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

namespace {

// The calling thread's Armed (arm_process() makes one on first use), or nullptr.
Armed* armed_here() noexcept {
  if (Armed* a = t_armed) return a;
  if (!g_process_armed.load(std::memory_order_relaxed)) return nullptr;
  thread_local ProcessArmed mine;
  if (mine.generation != g_generation.load(std::memory_order_relaxed)) mine.arm();
  return &mine.armed;
}

}  // namespace

Injected inject(Syscall call, std::size_t len, Fds fds) noexcept {
  Armed* a = armed_here();
  if (!a) return {0, len};
  ++a->counts_.calls;
  const std::uint64_t r = next(a->state_);
  if (a->plan_.one_in == 0 || r % a->plan_.one_in != 0) return {0, len};
  std::uint32_t can = possible(call) & a->plan_.kinds;
  if (len < 2) can &= ~bit(Fault::Short);
  if (fds.a < 0) can &= ~bit(Fault::Eagain);
  if (can == 0) return {0, len};
  const unsigned f = pick(can, r);
  ++a->counts_.injected[f];
  switch (static_cast<Fault>(f)) {
    case Fault::Eintr:
      return {EINTR, len};
    case Fault::Short:
      owe(fds);  // a caller may take a short transfer for a full (or empty) socket and wait
      return {0, 1 + static_cast<std::size_t>(next(a->state_) % (len - 1))};
    case Fault::Enobufs:
      return {ENOBUFS, len};
    case Fault::Enomem:
      return {ENOMEM, len};
    case Fault::Epipe:
      return {EPIPE, len};
    case Fault::Econnreset:
      return {ECONNRESET, len};
    case Fault::Eagain:
      owe(fds);
      return {EAGAIN, len};
    case Fault::Emfile:
    case Fault::Enfile:
      break;  // not a fault of these calls
  }
  return {0, len};
}

int inject_fd(FdCall call) noexcept {
  Armed* a = armed_here();
  if (!a || !(a->plan_.fd_calls & bit(call))) return 0;
  ++a->counts_.calls;
  const std::uint64_t r = next(a->state_);
  if (a->plan_.one_in == 0 || r % a->plan_.one_in != 0) return 0;
  const std::uint32_t can = (bit(Fault::Emfile) | bit(Fault::Enfile)) & a->plan_.kinds;
  if (can == 0) return 0;
  const unsigned f = pick(can, r);
  ++a->counts_.injected[f];
  return static_cast<Fault>(f) == Fault::Emfile ? EMFILE : ENFILE;
}

bool take_injected_eagain(int fd) noexcept {
  bool owed = std::exchange(t_next_wait_owed, false);
  const auto i = static_cast<std::size_t>(fd);
  if (fd >= 0 && i < t_owed.size() && t_owed[i]) {
    t_owed[i] = false;
    owed = true;
  }
  return owed;
}

}  // namespace zcnet::sys::faults

#endif

// Faults injected at the syscall seam (sys/faults.hpp) while every synchronous file -> socket
// strategy runs: EINTR, short reads and writes, ENOBUFS, ENOMEM, EPIPE and ECONNRESET at seeded
// random calls of the sending thread. Each transfer either completes byte-exact or ends in a typed
// error naming one of the injected errnos after an exact prefix of the file; none hangs; and no
// descriptor, pipe or buffer is left behind (counted before and after every seed), except a
// MSG_ZEROCOPY buffer whose send was still in flight when the transfer failed: it stays lent to
// the kernel, never reused, and is counted.
// A failing seed replays alone: ZCNET_FAULT_SEED=N runs only that seed; ZCNET_FAULT_SEEDS=N runs
// seeds 1 to N (default 2000 per strategy).
#include <dirent.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "strategy_driver.hpp"
#include "sys/faults.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

#if ZCNET_FAULTS

constexpr StrategyKind kKinds[] = {StrategyKind::ReadWrite, StrategyKind::Mmap,
                                   StrategyKind::Sendfile, StrategyKind::Splice,
                                   StrategyKind::MsgZerocopy};
constexpr std::uint64_t kSeedsPerStrategy = 2000;  // 10,000 seeded transfers in all

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

bool injected_error(int code) {
  return code == EPIPE || code == ECONNRESET || code == ENOBUFS || code == ENOMEM;
}

class SyscallFaults : public ::testing::TestWithParam<StrategyKind> {
 protected:
  void SetUp() override {
    if (!allows(Capabilities::probe(), GetParam()))
      GTEST_SKIP() << to_string(GetParam()) << " not available here";
  }
};

TEST_P(SyscallFaults, EverySeed_ByteExactOrTypedErrorAfterAnExactPrefix_NoLeakNoHang) {
  const std::vector<TempFile> files = [] {
    std::vector<TempFile> v;
    for (std::size_t size : {std::size_t{1}, std::size_t{4095}, std::size_t{65537},
                             std::size_t{300000}, std::size_t{2} << 20})
      v.push_back(TempFile::with_pattern(size, 5 + size));
    return v;
  }();
  std::uint64_t first = 1, last = kSeedsPerStrategy;
  if (const char* n = std::getenv("ZCNET_FAULT_SEEDS")) last = std::strtoull(n, nullptr, 10);
  if (const char* one = std::getenv("ZCNET_FAULT_SEED"))
    first = last = std::strtoull(one, nullptr, 10);
  std::uint64_t completed = 0, failed = 0, faults = 0, orphaned = 0;
  const std::size_t fds_before = open_fds();
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (ZCNET_FAULT_SEED=" + std::to_string(seed) +
                 " replays it)");
    const TempFile& f = files[seed % files.size()];
    const bool nonblocking = (seed / files.size()) % 2 == 1;
    Harness h;
    auto [c, s] = tcp_pair(nonblocking);
    Receiver rx(std::move(s));
    h.ctx.limit = f.size();
    Driven d;
    sys::faults::Counts counts;
    {
      auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
      ASSERT_TRUE(strategy);
      const sys::faults::Armed armed({.seed = seed, .one_in = 6});
      d = drive(*strategy, kNoBudget, {}, 5000);
      counts = armed.counts();
    }
    c.reset();
    const Receiver::Result got = rx.wait();
    faults += counts.injected[0] + counts.injected[1] + counts.errors();
    ASSERT_FALSE(d.timed_out) << "no readiness for 5 s: a hang";
    ASSERT_TRUE(d.last.handled) << d.error_text();
    if (d.ok()) {
      ++completed;
      ASSERT_EQ(got.bytes, f.size());
      ASSERT_EQ(got.hash, f.hash());
    } else {
      ++failed;
      ASSERT_TRUE(injected_error(d.error_code())) << d.error_text();
      ASSERT_GT(counts.errors(), 0u) << "an error with no error injected: " << d.error_text();
      ASSERT_LE(got.bytes, f.size());
      ASSERT_EQ(got.hash, f.hash(0, got.bytes)) << "what arrived is not a prefix of the file";
    }
    // Only a MSG_ZEROCOPY send the kernel had not finished when the transfer failed may still
    // hold its buffer: lent to the kernel, never reused. No handle keeps one.
    const PoolStats pool = h.buffers.stats();
    // (lent_to_kernel counts sends still to be notified: a buffer may carry several.)
    ASSERT_LE(pool.in_use, pool.lent_to_kernel) << "a buffer held past its transfer";
    if (GetParam() != StrategyKind::MsgZerocopy || d.ok()) {
      ASSERT_EQ(pool.in_use, 0u);
    }
    orphaned += pool.in_use;
    ASSERT_EQ(h.pipes.stats().leased, 0u) << "a pipe still leased";
  }
  // The harness pools are gone with their pipes: every descriptor a seed opened is closed.
  EXPECT_EQ(open_fds(), fds_before);
  RecordProperty("completed", std::to_string(completed));
  RecordProperty("failed", std::to_string(failed));
  RecordProperty("faults", std::to_string(faults));
  std::printf(
      "%s: %llu seeds, %llu completed byte-exact, %llu typed errors, %llu faults injected, %llu "
      "buffers left lent to the kernel\n",
      std::string(to_string(GetParam())).c_str(), static_cast<unsigned long long>(last - first + 1),
      static_cast<unsigned long long>(completed), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(faults), static_cast<unsigned long long>(orphaned));
  EXPECT_GT(faults, 0u);
}

INSTANTIATE_TEST_SUITE_P(Strategies, SyscallFaults, ::testing::ValuesIn(kKinds), [](const auto& p) {
  std::string n(to_string(p.param));
  std::erase(n, '-');
  return n;
});

#else

TEST(SyscallFaults, CompiledIntoTheAsanAndTsanBuildsOnly) {
  GTEST_SKIP() << "fault injection is compiled in with ZCNET_FAULTS (the asan and tsan presets)";
}

#endif

}  // namespace
}  // namespace zcnet

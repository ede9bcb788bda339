// Faults injected at the syscall seam (sys/faults.hpp) while every synchronous file -> socket
// strategy runs: EINTR, short reads and writes, EAGAIN, ENOBUFS, ENOMEM, EPIPE, ECONNRESET, and
// EMFILE or ENFILE where a pipe is made, at seeded random calls of the sending thread. Each
// transfer either completes byte-exact or ends in a typed error naming one of the injected errnos
// after an exact prefix of the file (or, with no pipe to be had, declines before taking a byte);
// none hangs; and no descriptor, mapping, pipe or buffer is left behind, none lent to the kernel
// (counted after every seed: a failed MSG_ZEROCOPY transfer reports its error once the kernel
// has released every buffer it lent). A failing seed replays alone: ZCNET_FAULT_SEED=N runs only
// that seed; ZCNET_FAULT_SEEDS=N runs seeds 1 to N (default 2000 per strategy).
#include <dirent.h>

#include <cstdlib>
#include <fstream>
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

// Mappings of `path` in this process (/proc/self/maps lines naming it).
std::size_t mappings_of(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    if (line.size() >= path.size() &&
        line.compare(line.size() - path.size(), path.size(), path) == 0)
      ++n;
  return n;
}

bool injected_error(int code) {
  return code == EPIPE || code == ECONNRESET || code == ENOBUFS || code == ENOMEM ||
         code == EMFILE || code == ENFILE;
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
  std::uint64_t completed = 0, failed = 0, declined = 0, faults = 0;
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
    ASSERT_EQ(mappings_of(f.path()), 0u) << "a mapping of the file left";
    const Receiver::Result got = rx.wait();
    faults += counts.total();
    ASSERT_FALSE(d.timed_out) << "no readiness for 5 s: a hang";
    if (!d.last.handled) {
      // Declined before taking a byte: no pipe to be had (a caller falls back to another
      // strategy, as Transfer does).
      ++declined;
      ASSERT_TRUE(d.error_code() == EMFILE || d.error_code() == ENFILE) << d.error_text();
      ASSERT_EQ(got.bytes, 0u);
    } else if (d.ok()) {
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
    const PoolStats pool = h.buffers.stats();
    ASSERT_EQ(pool.in_use, 0u) << "a buffer held past its transfer";
    ASSERT_EQ(pool.lent_to_kernel, 0u) << "a buffer still lent to the kernel";
    ASSERT_EQ(h.pipes.stats().leased, 0u) << "a pipe still leased";
  }
  // The harness pools are gone with their pipes: every descriptor a seed opened is closed.
  EXPECT_EQ(open_fds(), fds_before);
  RecordProperty("completed", std::to_string(completed));
  RecordProperty("failed", std::to_string(failed));
  RecordProperty("declined", std::to_string(declined));
  RecordProperty("faults", std::to_string(faults));
  std::printf(
      "%s: %llu seeds, %llu completed byte-exact, %llu typed errors, %llu declined (no pipe), %llu "
      "faults injected\n",
      std::string(to_string(GetParam())).c_str(), static_cast<unsigned long long>(last - first + 1),
      static_cast<unsigned long long>(completed), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(declined), static_cast<unsigned long long>(faults));
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

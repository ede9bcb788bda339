// Every file -> socket strategy facing the same faults: a peer that resets midway, a file that
// shrinks before or while it is sent, a pipe sink nobody reads. Each ends in a typed error (never
// SIGPIPE, SIGBUS or a hang), and what the peer received is an exact prefix of the file.
// mmap keeps its mapping while the file shrinks: pages past the new end reach send() as EFAULT or
// a short count, never as SIGBUS (checked below for every kind). Strategy-specific fault behaviour
// (a mapping window not yet made, splice's non-empty pipe) stays in the strategy's own file.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <tuple>

#include "strategy_driver.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

constexpr StrategyKind kKinds[] = {StrategyKind::ReadWrite,   StrategyKind::Mmap,
                                   StrategyKind::Sendfile,    StrategyKind::Splice,
                                   StrategyKind::MsgZerocopy, StrategyKind::UringSend,
                                   StrategyKind::UringSendZc, StrategyKind::UringSplice};

constexpr std::uint64_t kSeed = 23;

std::string kind_name(StrategyKind k) {
  std::string n(to_string(k));
  std::erase(n, '-');
  return n;
}

// The peer got bytes [0, n) of the original file, unchanged.
void expect_prefix_of_original(const Receiver::Result& got, std::size_t original_size) {
  auto original = pattern(original_size, kSeed);
  ASSERT_LE(got.bytes, original.size());
  EXPECT_EQ(got.hash, hash_bytes(original.data(), got.bytes));
}

void expect_no_fatal_signal_pending() {
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGBUS));
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

class FileToSocketFault : public ::testing::TestWithParam<StrategyKind> {
 protected:
  void SetUp() override {
    if (!allows(Capabilities::probe(), GetParam()))
      GTEST_SKIP() << to_string(GetParam()) << " not available here";
  }
};

TEST_P(FileToSocketFault, PeerResetMidway_TypedErrorNoSigpipeNoHang) {
  for (bool nonblocking : {false, true}) {
    SCOPED_TRACE(nonblocking ? "nonblocking" : "blocking");
    Harness h;
    TempFile f = TempFile::with_pattern(32 << 20, kSeed);
    h.ctx.limit = f.size();
    auto [c, s] = tcp_pair(nonblocking);
    auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
    ASSERT_TRUE(strategy);
    Driven d;
    {
      ResettingPeer peer(std::move(s), 1 << 20);
      d = drive(*strategy, kNoBudget, {}, 5000);
    }
    ASSERT_FALSE(d.timed_out);
    ASSERT_TRUE(d.last.error) << "a reset peer must end the transfer with an error";
    EXPECT_TRUE(d.last.handled);
    EXPECT_TRUE(is_reset_error(d.error_code())) << d.error_text();
    EXPECT_LT(d.bytes, f.size());
    strategy.reset();
    EXPECT_EQ(h.pipes.stats().idle, 0u) << "a pipe that may hold data is closed, not pooled";
    expect_no_fatal_signal_pending();
  }
}

TEST_P(FileToSocketFault, FileTruncatedBeforeTheStart_EndsInEnodataNamingTheFile) {
  Harness h;
  TempFile f = TempFile::with_pattern(2 << 20, kSeed);
  h.ctx.limit = f.size();  // the length the caller saw before the file shrank
  ASSERT_EQ(::ftruncate(f.fd(), 300000), 0);
  auto [c, s] = tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_NE(d.error_text().find(f.path()), std::string::npos) << d.error_text();
  strategy.reset();
  c.reset();
  // How much of the 300000 bytes left before the error depends on the strategy's chunking
  // (read-write, sendfile and splice send them all; buffer-based ones stop at the failed chunk).
  auto got = rx.wait();
  EXPECT_LE(got.bytes, 300000u);
  expect_prefix_of_original(got, 2 << 20);
}

TEST_P(FileToSocketFault, FileTruncatedBetweenSteps_EndsInEnodataAndSendsOnlyOriginalBytes) {
  Harness h;
  TempFile f = TempFile::with_pattern(16 << 20, kSeed);
  h.ctx.limit = f.size();
  auto [c, s] = tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy, 64 * 1024, [&](const Driven& so_far) {
    if (so_far.steps == 1) {
      ASSERT_EQ(::ftruncate(f.fd(), 1 << 20), 0);
    }
  });
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  strategy.reset();
  c.reset();
  auto got = rx.wait();
  EXPECT_LT(got.bytes, 16u << 20) << "the transfer stopped short of the original end";
  // Chunks read before the truncation may still leave; nothing else may.
  expect_prefix_of_original(got, 16 << 20);
  expect_no_fatal_signal_pending();
}

TEST_P(FileToSocketFault, FileTruncatedByAnotherThreadWhileReceiverIsSlow_EndsInEnodata) {
  Harness h;
  TempFile f = TempFile::with_pattern(64 << 20, kSeed);
  h.ctx.limit = f.size();
  auto [c, s] = tcp_pair();
  SlowReceiver rx(std::move(s));
  std::thread truncator([&] {
    while (rx.bytes() < (4u << 20)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ::ftruncate(f.fd(), 1 << 20);
    rx.release();
  });
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  truncator.join();
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
  EXPECT_LT(d.bytes, 64u << 20);
  strategy.reset();
  c.reset();
  rx.wait();
  expect_no_fatal_signal_pending();
}

INSTANTIATE_TEST_SUITE_P(Kinds, FileToSocketFault, ::testing::ValuesIn(kKinds),
                         [](const auto& p) { return kind_name(p.param); });

// The strategies that also write into pipes.
class FileToPipeFault : public FileToSocketFault {};

TEST_P(FileToPipeFault, PipeSinkWithoutReader_EpipeNotSigpipe) {
  Harness h;
  TempFile f = TempFile::with_pattern(100000, kSeed);
  auto [r, w] = make_pipe();
  r.reset();
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Pipe{w.get()});
  ASSERT_TRUE(strategy);
  Driven d = drive(*strategy);
  EXPECT_EQ(d.error_code(), EPIPE) << d.error_text();
  expect_no_fatal_signal_pending();
}

INSTANTIATE_TEST_SUITE_P(Kinds, FileToPipeFault,
                         ::testing::Values(StrategyKind::ReadWrite, StrategyKind::Mmap,
                                           StrategyKind::Sendfile, StrategyKind::Splice),
                         [](const auto& p) { return kind_name(p.param); });

}  // namespace
}  // namespace zcnet

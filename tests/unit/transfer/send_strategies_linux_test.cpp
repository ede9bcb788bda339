// What every send-based kernel-completion strategy (msg-zerocopy, uring-send, uring-send-zc)
// guarantees for File and Memory sources into a socket. Strategy-specific behaviour lives in
// msg_zerocopy_linux_test.cpp and uring_send_linux_test.cpp.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <tuple>

#include "strategy_driver.hpp"
#include "support.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {
namespace {

using test::Driven;
using test::Harness;
using test::Receiver;
using test::TempFile;

void skip_unless_allowed(StrategyKind k) {
  if (!allows(Capabilities::probe(), k))
    GTEST_SKIP() << to_string(k) << " is not available on this kernel";
}

std::string kind_name(StrategyKind k) {
  std::string s(to_string(k));
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

// ---- byte-exact at every size ----

class SendStrategySize
    : public ::testing::TestWithParam<std::tuple<StrategyKind, std::size_t, bool>> {};

TEST_P(SendStrategySize, FileToSocket_ByteExact) {
  const auto [kind, size, nonblocking] = GetParam();
  skip_unless_allowed(kind);
  Harness h;
  TempFile f = TempFile::with_pattern(size, size + 3);
  auto [c, s] = test::tcp_pair(nonblocking);
  Receiver rx(std::move(s));
  h.ctx.limit = size;
  auto strategy = h.make(kind, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, size);
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(h.stats.bytes, size);
  EXPECT_EQ(h.stats.bytes_copied_user, size) << "pread into pool buffers is a user-space copy";
  EXPECT_EQ(h.stats.zc_completions > 0, size > 0 && kind != StrategyKind::UringSend);
  EXPECT_EQ(h.buffers.stats().lent_to_kernel, 0u);
  EXPECT_EQ(h.buffers.stats().in_use, 0u) << "every buffer back in the pool once done";
}

TEST_P(SendStrategySize, MemoryToSocket_ByteExact) {
  const auto [kind, size, nonblocking] = GetParam();
  skip_unless_allowed(kind);
  Harness h;
  auto bytes = test::pattern(size, size + 5);
  auto [c, s] = test::tcp_pair(nonblocking);
  Receiver rx(std::move(s));
  auto strategy = h.make(kind, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, size);
  EXPECT_EQ(got.hash, test::hash_bytes(bytes.data(), bytes.size()));
  EXPECT_EQ(h.stats.bytes, size);
  EXPECT_EQ(h.stats.bytes_copied_user, 0u) << "sends straight from the caller's memory";
}

constexpr std::size_t kSizes[] = {0, 1, 4095, 4096, 65537, 16u << 20};
constexpr StrategyKind kKinds[] = {StrategyKind::MsgZerocopy, StrategyKind::UringSend,
                                   StrategyKind::UringSendZc};

std::string size_case(const ::testing::TestParamInfo<SendStrategySize::ParamType>& p) {
  return kind_name(std::get<0>(p.param)) + "_" + std::to_string(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(Blocking, SendStrategySize,
                         ::testing::Combine(::testing::ValuesIn(kKinds),
                                            ::testing::ValuesIn(kSizes), ::testing::Values(false)),
                         size_case);
INSTANTIATE_TEST_SUITE_P(Nonblocking, SendStrategySize,
                         ::testing::Combine(::testing::ValuesIn(kKinds),
                                            ::testing::Values(std::size_t{65537},
                                                              std::size_t{16} << 20),
                                            ::testing::Values(true)),
                         size_case);

// ---- behaviours, once per strategy ----

class SendStrategy : public ::testing::TestWithParam<StrategyKind> {
 protected:
  void SetUp() override { skip_unless_allowed(GetParam()); }
};

TEST_P(SendStrategy, BigFile_256MiB_ByteExact) {
  Harness h;
  const TempFile& f = test::big_file();
  auto [c, s] = test::tcp_pair(true);
  Receiver rx(std::move(s));
  h.ctx.limit = f.size();
  h.ctx.chunk_bytes = 1 << 20;
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST_P(SendStrategy, FileRangeWithOffset_SendsExactlyTheRange) {
  Harness h;
  TempFile f = TempFile::with_pattern(3 << 20, 11);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  h.ctx.chunk_bytes = 100000;  // chunks that straddle pages and buffer sizes
  auto strategy = h.make(GetParam(), FileRange{f.fd(), 12345, 2000001}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, 2000001u);
  EXPECT_EQ(got.hash, f.hash(12345, 2000001));
}

// The specification of zero-copy: once the transfer says done, the kernel no longer reads the
// caller's memory. The receiver starts only after the memory was overwritten.
TEST_P(SendStrategy, MemoryOverwrittenRightAfterDone_PeerReceivesOriginal) {
  Harness h;
  auto bytes = test::pattern(65537, 21);
  const std::uint64_t original = test::hash_bytes(bytes.data(), bytes.size());
  auto [c, s] = test::tcp_pair();
  auto strategy = h.make(GetParam(), Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  std::memset(bytes.data(), 0xEE, bytes.size());
  Receiver rx(std::move(s));
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, bytes.size());
  EXPECT_EQ(got.hash, original);
}

TEST_P(SendStrategy, BudgetedSteps_StopNearTheBudgetAndResume) {
  Harness h;
  TempFile f = TempFile::with_pattern(4 << 20, 13);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  h.ctx.limit = f.size();
  h.ctx.chunk_bytes = 64 * 1024;
  auto strategy = h.make(GetParam(), FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy, 128 * 1024);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_GE(d.steps, 8) << "a budget of 128 KiB cannot move 4 MiB in fewer steps";
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST_P(SendStrategy, CapabilityOff_FactoryRefusesWithEopnotsupp) {
  Harness h;
  const Capabilities caps = without(Capabilities::probe(), GetParam());
  h.ctx.caps = &caps;
  auto bytes = test::pattern(100);
  auto [c, s] = test::tcp_pair();
  auto made = make_strategy(GetParam(), Memory{bytes}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

TEST_P(SendStrategy, UnsupportedPair_Eopnotsupp) {
  Harness h;
  auto [r, w] = test::make_pipe();
  auto [c, s] = test::tcp_pair();
  auto made = make_strategy(GetParam(), Socket{c.get()}, Pipe{w.get()}, h.ctx);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
}

std::string kind_case(const ::testing::TestParamInfo<StrategyKind>& p) {
  return kind_name(p.param);
}

INSTANTIATE_TEST_SUITE_P(Kernel, SendStrategy, ::testing::ValuesIn(kKinds), kind_case);

}  // namespace
}  // namespace zcnet

// uring-splice: IORING_OP_SPLICE through a pooled pipe, File -> Socket, Socket -> File and
// Socket -> Socket.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "strategy_driver.hpp"
#include "support.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {
namespace {

using test::Driven;
using test::Harness;
using test::Receiver;
using test::TempFile;

class UringSplice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!allows(Capabilities::probe(), StrategyKind::UringSplice))
      GTEST_SKIP() << "io_uring splice not available";
  }
};

class UringSpliceSize : public ::testing::TestWithParam<std::tuple<std::size_t, bool>> {
 protected:
  void SetUp() override {
    if (!allows(Capabilities::probe(), StrategyKind::UringSplice))
      GTEST_SKIP() << "io_uring splice not available";
  }
};

TEST_P(UringSpliceSize, FileToSocket_ByteExact) {
  const auto [size, nonblocking] = GetParam();
  Harness h;
  TempFile f = TempFile::with_pattern(size, size + 1);
  h.ctx.limit = size;
  auto [c, s] = test::tcp_pair(nonblocking);
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::UringSplice, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  strategy.reset();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, size);
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(h.stats.bytes, size);
  EXPECT_EQ(h.stats.bytes_copied_user, 0u);
  EXPECT_EQ(h.pipes.stats().discarded_nonempty, 0u);
}

TEST_P(UringSpliceSize, SocketToFile_ByteExact) {
  const auto [size, nonblocking] = GetParam();
  Harness h;
  TempFile out = TempFile::empty();
  auto bytes = test::pattern(size, size + 2);
  auto [c, s] = test::tcp_pair(nonblocking);
  test::Writer writer(std::move(s), bytes);
  auto strategy = h.make(StrategyKind::UringSplice, Socket{c.get()}, FileRange{out.fd(), 100});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  EXPECT_EQ(out.size(), size == 0 ? 0 : size + 100);
  EXPECT_EQ(out.hash(100, size), test::hash_bytes(bytes.data(), bytes.size()));
}

TEST_P(UringSpliceSize, SocketToSocket_ByteExact) {
  const auto [size, nonblocking] = GetParam();
  Harness h;
  auto bytes = test::pattern(size, size + 3);
  auto [in_c, in_s] = test::tcp_pair(nonblocking);
  auto [out_c, out_s] = test::tcp_pair(nonblocking);
  test::Writer writer(std::move(in_s), bytes);
  Receiver rx(std::move(out_s));
  auto strategy = h.make(StrategyKind::UringSplice, Socket{in_c.get()}, Socket{out_c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  out_c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, size);
  EXPECT_EQ(got.hash, test::hash_bytes(bytes.data(), bytes.size()));
}

std::string splice_case(const ::testing::TestParamInfo<UringSpliceSize::ParamType>& p) {
  return std::to_string(std::get<0>(p.param)) + (std::get<1>(p.param) ? "_nonblocking" : "");
}

INSTANTIATE_TEST_SUITE_P(Blocking, UringSpliceSize,
                         ::testing::Combine(::testing::Values(std::size_t{0}, std::size_t{1},
                                                              std::size_t{4095}, std::size_t{4096},
                                                              std::size_t{65537},
                                                              std::size_t{16} << 20),
                                            ::testing::Values(false)),
                         splice_case);
INSTANTIATE_TEST_SUITE_P(Nonblocking, UringSpliceSize,
                         ::testing::Combine(::testing::Values(std::size_t{65537},
                                                              std::size_t{16} << 20),
                                            ::testing::Values(true)),
                         splice_case);

TEST_F(UringSplice, BigFile_256MiB_ByteExact) {
  Harness h;
  const TempFile& f = test::big_file();
  h.ctx.limit = f.size();
  auto [c, s] = test::tcp_pair(true);
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::UringSplice, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
}

TEST_F(UringSplice, SocketSourceEndsBeforeItsLimit_Enodata) {
  Harness h;
  TempFile out = TempFile::empty();
  auto bytes = test::pattern(5000);
  auto [c, s] = test::tcp_pair();
  test::Writer writer(std::move(s), bytes);
  h.ctx.limit = 10000;
  auto strategy = h.make(StrategyKind::UringSplice, Socket{c.get()}, FileRange{out.fd()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.last.error);
  EXPECT_EQ(d.error_code(), ENODATA) << d.error_text();
}

TEST_F(UringSplice, PipeGoesBackToThePoolEmpty) {
  Harness h;
  for (int round = 0; round < 2; ++round) {
    TempFile f = TempFile::with_pattern(3 << 20, 23);
    h.ctx.limit = f.size();
    auto [c, s] = test::tcp_pair();
    Receiver rx(std::move(s));
    auto strategy = h.make(StrategyKind::UringSplice, FileRange{f.fd()}, Socket{c.get()});
    ASSERT_TRUE(strategy);
    ASSERT_TRUE(test::drive(*strategy).ok());
    strategy.reset();
    c.reset();
    EXPECT_EQ(rx.wait().hash, f.hash());
  }
  EXPECT_EQ(h.pipes.stats().created, 1u);
  EXPECT_EQ(h.pipes.stats().reused, 1u);
  EXPECT_EQ(h.pipes.stats().discarded_nonempty, 0u);
}

TEST_F(UringSplice, CapabilityOffOrUnsupportedPair_Eopnotsupp) {
  Harness h;
  TempFile f = TempFile::with_pattern(100);
  auto [c, s] = test::tcp_pair();
  const Capabilities caps = without(Capabilities::probe(), StrategyKind::UringSplice);
  StrategyContext off = h.ctx;
  off.caps = &caps;
  auto made = make_strategy(StrategyKind::UringSplice, FileRange{f.fd()}, Socket{c.get()}, off);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code(), EOPNOTSUPP);
  auto bytes = test::pattern(10);
  auto pair = make_strategy(StrategyKind::UringSplice, Memory{bytes}, Socket{c.get()}, h.ctx);
  ASSERT_FALSE(pair);
  EXPECT_EQ(pair.error().code(), EOPNOTSUPP);
}

}  // namespace
}  // namespace zcnet

// uring-send and uring-send-zc: io_uring completions, notifications and fixed buffers. Byte
// exactness at every size, resets, truncation and capability checks are in
// send_strategies_linux_test.cpp.
#include <gtest/gtest.h>

#include "strategy_driver.hpp"
#include "support.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {
namespace {

using test::Driven;
using test::Harness;
using test::Receiver;
using test::TempFile;

class UringSendZc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!allows(Capabilities::probe(), StrategyKind::UringSendZc))
      GTEST_SKIP() << "io_uring send_zc not available";
  }
};

// Loopback copies the pages after all; with IORING_SEND_ZC_REPORT_USAGE (kernel 6.2+) every
// notification says so.
TEST_F(UringSendZc, Loopback_NotificationsReportCopiedAnyway) {
  Harness h;
  auto bytes = test::pattern(8 << 20, 3);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::UringSendZc, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  EXPECT_EQ(rx.wait().hash, test::hash_bytes(bytes.data(), bytes.size()));
  EXPECT_GE(h.stats.zc_completions, 1u);
  EXPECT_GT(h.stats.zc_copied, 0u);
  EXPECT_LE(h.stats.zc_copied, h.stats.zc_completions);
}

TEST_F(UringSendZc, PoolBufferLentToKernel_IsNotHandedOutUntilItsNotification) {
  Harness h;
  BufferPool pool(PoolOptions{.class_sizes = {256 * 1024},
                              .buffers_per_class = 1,
                              .max_buffers_per_class = 1,
                              .policy = ExhaustionPolicy::Fail});
  h.ctx.buffers = &pool;
  h.ctx.chunk_bytes = 256 * 1024;
  TempFile f = TempFile::with_pattern(16 << 20, 9);
  h.ctx.limit = f.size();
  auto [c, s] = test::tcp_pair();  // nobody reads yet: the window closes, sends stay in flight
  auto strategy = h.make(StrategyKind::UringSendZc, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Outcome o;
  for (int i = 0; i < 1000 && !o.wait; ++i) {
    o = strategy->step();
    ASSERT_FALSE(o.error) << o.error->message();
  }
  ASSERT_TRUE(o.wait);
  EXPECT_GE(pool.stats().lent_to_kernel, 1u);
  auto extra = pool.acquire(1024);
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code(), ENOBUFS);

  Receiver rx(std::move(s));
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(pool.stats().lent_to_kernel, 0u);
  EXPECT_TRUE(pool.acquire(1024));
}

// A big file transfer registers the pool with the strategy's ring and sends with
// send_zc_fixed; the bytes are the same.
TEST_F(UringSendZc, BigFile_UsesRegisteredBuffers) {
  if (!Capabilities::probe().uring_fixed_buffers) GTEST_SKIP() << "no fixed buffers";
  Harness h;
  TempFile f = TempFile::with_pattern(8 << 20, 5);
  h.ctx.limit = f.size();
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::UringSendZc, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  auto probe = h.buffers.acquire(h.ctx.chunk_bytes);
  ASSERT_TRUE(probe);
  EXPECT_GE(probe->registered_index(), 0) << "the pool was registered with the ring";
  probe = PoolBuffer();
  ASSERT_TRUE(test::drive(*strategy).ok());
  c.reset();
  EXPECT_EQ(rx.wait().hash, f.hash());
}

TEST(UringSend, FileToSocket_NoZeroCopyNotifications) {
  if (!Capabilities::probe().io_uring) GTEST_SKIP() << "io_uring not available";
  Harness h;
  TempFile f = TempFile::with_pattern(2 << 20, 6);
  h.ctx.limit = f.size();
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::UringSend, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  ASSERT_TRUE(test::drive(*strategy).ok());
  c.reset();
  EXPECT_EQ(rx.wait().hash, f.hash());
  EXPECT_EQ(h.stats.zc_completions, 0u);
  // Chains of several chunks per submit: fewer submits than chunks.
  EXPECT_LT(h.stats.syscalls, 2 * (f.size() / h.ctx.chunk_bytes) + 4);
}

TEST(UringSend, IoUringOff_FactoryRefusesSoTheTransferFallsBack) {
  Harness h;
  Capabilities caps = Capabilities::probe();
  caps.io_uring = caps.uring_send_zc = caps.uring_splice = caps.uring_fixed_buffers = false;
  h.ctx.caps = &caps;
  auto bytes = test::pattern(100);
  auto [c, s] = test::tcp_pair();
  for (StrategyKind k : {StrategyKind::UringSend, StrategyKind::UringSendZc}) {
    auto made = make_strategy(k, Memory{bytes}, Socket{c.get()}, h.ctx);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code(), EOPNOTSUPP) << made.error().message();
  }
}

}  // namespace
}  // namespace zcnet

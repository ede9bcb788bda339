// msg-zerocopy: MSG_ZEROCOPY sends and their error-queue notifications. Byte exactness at every
// size, resets, truncation and capability checks are in send_strategies_linux_test.cpp.
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

class MsgZerocopy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Capabilities::probe().msg_zerocopy) GTEST_SKIP() << "SO_ZEROCOPY not supported";
  }
};

// Loopback hands the skb to a local socket, which copies the pages: the kernel flags every
// notification SO_EE_CODE_ZEROCOPY_COPIED, and the stats say so.
TEST_F(MsgZerocopy, Loopback_EveryNotificationReportsCopiedAnyway) {
  Harness h;
  auto bytes = test::pattern(8 << 20, 3);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  auto strategy = h.make(StrategyKind::MsgZerocopy, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  EXPECT_EQ(rx.wait().hash, test::hash_bytes(bytes.data(), bytes.size()));
  EXPECT_GT(h.stats.zc_completions, 0u);
  EXPECT_GT(h.stats.zc_copied, 0u);
  EXPECT_LE(h.stats.zc_copied, h.stats.zc_completions);
  EXPECT_EQ(h.stats.bytes_copied_user, 0u);
}

// A one-buffer pool that fails when empty: while the kernel still holds the buffer of an
// unacknowledged send, acquire() says ENOBUFS instead of handing the lent buffer out again.
TEST_F(MsgZerocopy, PoolBufferLentToKernel_IsNotHandedOutUntilItsNotification) {
  Harness h;
  BufferPool pool(PoolOptions{.class_sizes = {256 * 1024},
                              .buffers_per_class = 1,
                              .max_buffers_per_class = 1,
                              .policy = ExhaustionPolicy::Fail});
  h.ctx.buffers = &pool;
  h.ctx.chunk_bytes = 256 * 1024;
  TempFile f = TempFile::with_pattern(16 << 20, 9);
  h.ctx.limit = f.size();
  auto [c, s] = test::tcp_pair(true);  // nobody reads yet: the window closes, sends stay unacked
  auto strategy = h.make(StrategyKind::MsgZerocopy, FileRange{f.fd()}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  Outcome o;
  for (int i = 0; i < 1000 && !o.wait; ++i) {
    o = strategy->step();
    ASSERT_FALSE(o.error) << o.error->message();
  }
  ASSERT_TRUE(o.wait) << "the peer does not read: the sender must block";
  EXPECT_GE(pool.stats().lent_to_kernel, 1u);
  auto extra = pool.acquire(1024);
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code(), ENOBUFS);

  Receiver rx(std::move(s));
  Driven d = test::drive(*strategy);
  ASSERT_TRUE(d.ok()) << d.error_text();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(pool.stats().lent_to_kernel, 0u);
  EXPECT_TRUE(pool.acquire(1024)) << "the buffer is back once every notification arrived";
}

// AF_UNIX refuses SO_ZEROCOPY: the first step consumes nothing and says so (handled == false).
TEST_F(MsgZerocopy, UnixSocket_NotHandledNothingConsumed) {
  Harness h;
  auto bytes = test::pattern(4096);
  auto [a, b] = test::unix_pair();
  auto strategy = h.make(StrategyKind::MsgZerocopy, Memory{bytes}, Socket{a.get()});
  ASSERT_TRUE(strategy);
  Outcome o = strategy->step();
  EXPECT_FALSE(o.handled);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code(), EOPNOTSUPP) << o.error->message();
  EXPECT_EQ(o.bytes, 0u);
  EXPECT_EQ(h.stats.bytes, 0u);
}

TEST_F(MsgZerocopy, SyscallsCounted_SendsAndErrorQueueReads) {
  Harness h;
  auto bytes = test::pattern(1 << 20, 4);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  h.ctx.chunk_bytes = 256 * 1024;
  auto strategy = h.make(StrategyKind::MsgZerocopy, Memory{bytes}, Socket{c.get()});
  ASSERT_TRUE(strategy);
  ASSERT_TRUE(test::drive(*strategy).ok());
  c.reset();
  rx.wait();
  // Four chunk sends at least, plus at least one error-queue read per notification batch.
  EXPECT_GE(h.stats.syscalls, 5u);
  EXPECT_GE(h.stats.zc_completions, 4u);
}

}  // namespace
}  // namespace zcnet

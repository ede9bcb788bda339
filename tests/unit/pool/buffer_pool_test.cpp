#include "zcnet/pool/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

namespace zcnet {
namespace {

PoolOptions small(ExhaustionPolicy policy, std::size_t n = 2, std::size_t cap = 2) {
  PoolOptions o;
  o.class_sizes = {4096, 65536};
  o.buffers_per_class = n;
  o.max_buffers_per_class = cap;
  o.policy = policy;
  o.wait_timeout = std::chrono::milliseconds(50);
  return o;
}

TEST(BufferPool, Acquire_PicksSmallestClassThatFits) {
  BufferPool pool(small(ExhaustionPolicy::Fail));
  auto a = pool.acquire(100);
  auto b = pool.acquire(5000);
  auto c = pool.acquire(1 << 20);  // larger than any class: the largest class
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->capacity(), 4096u);
  EXPECT_EQ(b->capacity(), 65536u);
  EXPECT_EQ(c->capacity(), 65536u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a->data()) % 4096, 0u);
}

TEST(BufferPool, Release_ReturnsBufferForReuse) {
  BufferPool pool(small(ExhaustionPolicy::Fail, 1, 1));
  std::byte* first;
  {
    auto a = pool.acquire(10);
    ASSERT_TRUE(a);
    first = a->data();
  }
  auto b = pool.acquire(10);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->data(), first);
  EXPECT_EQ(pool.stats().acquires, 2u);
}

TEST(BufferPool, FailPolicy_Exhausted_ReturnsEnobufs) {
  BufferPool pool(small(ExhaustionPolicy::Fail));
  auto a = pool.acquire(10), b = pool.acquire(10);
  ASSERT_TRUE(a && b);
  auto c = pool.acquire(10);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ENOBUFS);
  EXPECT_NE(c.error().message().find("ENOBUFS"), std::string::npos);
  EXPECT_EQ(pool.stats().failures, 1u);
}

TEST(BufferPool, GrowPolicy_GrowsToCapThenFails) {
  BufferPool pool(small(ExhaustionPolicy::Grow, 1, 3));
  std::vector<PoolBuffer> held;
  for (int i = 0; i < 3; ++i) {
    auto b = pool.acquire(10);
    ASSERT_TRUE(b) << i;
    held.push_back(std::move(*b));
  }
  std::set<std::byte*> distinct;
  for (auto& b : held) distinct.insert(b.data());
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_FALSE(pool.acquire(10));
  EXPECT_EQ(pool.stats().high_water, 3u);
}

TEST(BufferPool, WaitPolicy_GetsBufferReleasedByAnotherThread) {
  BufferPool pool(small(ExhaustionPolicy::Wait, 1, 1));
  auto a = pool.acquire(10);
  ASSERT_TRUE(a);
  std::thread releaser([buf = std::move(*a)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    buf = PoolBuffer();
  });
  auto b = pool.acquire(10);  // waits up to 50 ms; the release comes after ~10 ms
  releaser.join();
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_GE(pool.stats().waits, 1u);
}

TEST(BufferPool, WaitPolicy_TimesOutWithEnobufs) {
  BufferPool pool(small(ExhaustionPolicy::Wait, 1, 1));
  auto a = pool.acquire(10);
  ASSERT_TRUE(a);
  auto b = pool.acquire(10);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ENOBUFS);
}

TEST(BufferPool, LentBuffer_NotReusedUntilKernelDone) {
  BufferPool pool(small(ExhaustionPolicy::Fail, 1, 1));
  auto a = pool.acquire(10);
  ASSERT_TRUE(a);
  PoolBuffer buf = std::move(*a);
  buf.lend_to_kernel();
  buf.lend_to_kernel();
  EXPECT_EQ(buf.lent(), 2u);
  buf.kernel_done();
  // Dropping the handle while the kernel holds the buffer must not free it.
  PoolBuffer keep = std::move(buf);
  std::byte* p = keep.data();
  {
    PoolBuffer dropped = std::move(keep);
    (void)dropped;
  }
  EXPECT_FALSE(pool.acquire(10)) << "a buffer the kernel still reads was handed out";
  EXPECT_EQ(pool.stats().lent_to_kernel, 1u);
  EXPECT_EQ(pool.stats().in_use, 1u);
  (void)p;
}

TEST(BufferPool, LentBuffer_ReturnsAfterLastKernelDone) {
  BufferPool pool(small(ExhaustionPolicy::Fail, 1, 1));
  auto a = pool.acquire(10);
  ASSERT_TRUE(a);
  a->lend_to_kernel();
  a->kernel_done();
  EXPECT_EQ(a->lent(), 0u);
  *a = PoolBuffer();
  EXPECT_TRUE(pool.acquire(10));
  EXPECT_EQ(pool.stats().lent_to_kernel, 0u);
}

TEST(BufferPool, ConcurrentAcquireRelease_KeepsCountsConsistent) {
  BufferPool pool(small(ExhaustionPolicy::Wait, 4, 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&pool] {
      for (int i = 0; i < 2000; ++i) {
        auto b = pool.acquire(100);
        ASSERT_TRUE(b);
        b->data()[0] = std::byte{1};
      }
    });
  for (auto& t : threads) t.join();
  PoolStats s = pool.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.acquires, 8000u);
  EXPECT_LE(s.high_water, 4u);
}

}  // namespace
}  // namespace zcnet

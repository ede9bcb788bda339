#include "zcnet/transfer/coalescer.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>

#include "support.hpp"

namespace zcnet {
namespace {

TEST(Coalescer, ManySmallMessages_LeaveInFewSyscalls_ByteExact) {
  BufferPool pool;
  auto [c, s] = test::tcp_pair();
  test::Receiver rx(std::move(s));
  std::string expect;
  {
    Coalescer co(c.get(), pool, {.flush_bytes = 16 * 1024, .max_iovecs = 64});
    for (int i = 0; i < 10000; ++i) {
      std::string msg = "message " + std::to_string(i) + "\n";
      expect += msg;
      ASSERT_TRUE(co.append(std::as_bytes(std::span(msg))));
    }
    ASSERT_TRUE(co.flush());
    EXPECT_EQ(co.pending(), 0u);
    EXPECT_EQ(co.stats().bytes, expect.size());
    // ~130 KB in 16 KiB batches: a handful of sendmsg calls instead of 10000 writes.
    EXPECT_LE(co.stats().syscalls, expect.size() / (16 * 1024) + 2);
  }
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, expect.size());
  EXPECT_EQ(got.hash, test::hash_bytes(expect.data(), expect.size()));
}

TEST(Coalescer, ReferencedPieces_AreSentWithoutCopy_InOrder) {
  BufferPool pool;
  auto [c, s] = test::tcp_pair();
  test::Receiver rx(std::move(s));
  auto big = test::pattern(100000);
  std::string head = "head:";
  Coalescer co(c.get(), pool);
  ASSERT_TRUE(co.append(std::as_bytes(std::span(head))));
  ASSERT_TRUE(co.append_ref(big));
  ASSERT_TRUE(co.flush());
  EXPECT_EQ(co.stats().bytes_copied_user, head.size());
  c.reset();
  std::vector<std::byte> expect(head.size());
  std::memcpy(expect.data(), head.data(), head.size());
  expect.insert(expect.end(), big.begin(), big.end());
  auto got = rx.wait();
  EXPECT_EQ(got.hash, test::hash_bytes(expect.data(), expect.size()));
}

TEST(Coalescer, NonblockingFullSocket_KeepsUnsentRest_ThenCompletes) {
  BufferPool pool;
  auto [c, s] = test::tcp_pair(/*nonblocking_client=*/true);
  auto big = test::pattern(8 << 20);
  Coalescer co(c.get(), pool);
  // append_ref flushes by itself past flush_bytes; either call may meet the full socket.
  auto r = co.append_ref(big);
  if (r) r = co.flush();
  ASSERT_FALSE(r) << "8 MiB into an unread loopback socket should hit EAGAIN";
  EXPECT_EQ(r.error().code(), EAGAIN);
  EXPECT_GT(co.pending(), 0u);
  test::Receiver rx(std::move(s));
  while (co.pending() > 0) {
    auto again = co.flush();
    if (!again) {
      ASSERT_EQ(again.error().code(), EAGAIN);
    }
  }
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, big.size());
  EXPECT_EQ(got.hash, test::hash_bytes(big.data(), big.size()));
}

TEST(Coalescer, PeerReset_IsTypedErrorNoSigpipe) {
  BufferPool pool;
  auto [c, s] = test::tcp_pair();
  linger lg{1, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  s.reset();  // RST
  auto big = test::pattern(1 << 20);
  Coalescer co(c.get(), pool);
  Result<void> r;
  for (int i = 0; i < 100 && r; ++i) {
    (void)co.append_ref(big);
    r = co.flush();
  }
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code() == EPIPE || r.error().code() == ECONNRESET) << r.error().message();
}

}  // namespace
}  // namespace zcnet

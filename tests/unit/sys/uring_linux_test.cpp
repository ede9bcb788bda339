// The ring wrapper and the property the io_uring strategies rely on to wait: the ring fd polls
// readable when completions are posted, and not before.
#include "sys/uring_linux.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include "support.hpp"

namespace zcnet {
namespace {

TEST(UringRing, RingFdPollsReadableOnlyOnceACompletionIsPosted) {
  sys::UringRing ring;
  if (ring.init(8) < 0) GTEST_SKIP() << "io_uring not available";
  auto [c, s] = test::tcp_pair();
  char buf[16];
  io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
  io_uring_prep_recv(sqe, s.get(), buf, sizeof buf, 0);
  ASSERT_EQ(io_uring_submit(ring.get()), 1);

  pollfd p{ring.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 50), 0) << "nothing completed yet";
  ASSERT_EQ(::write(c.get(), "hello", 5), 5);
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "the completion must wake a poll() on the ring fd";
  EXPECT_TRUE(p.revents & POLLIN);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_peek_cqe(ring.get(), &cqe), 0);
  EXPECT_EQ(cqe->res, 5);
  io_uring_cqe_seen(ring.get(), cqe);
}

TEST(UringRing, MoveTransfersOwnership) {
  sys::UringRing a;
  if (a.init(4) < 0) GTEST_SKIP() << "io_uring not available";
  const int fd = a.fd();
  sys::UringRing b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.fd(), fd);
  sys::UringRing c;
  c = std::move(b);
  EXPECT_EQ(c.fd(), fd);
  EXPECT_EQ(b.fd(), -1);  // NOLINT(bugprone-use-after-move)
}

TEST(UringRing, InitWithParams_ReportsTheKernelsQueueSizes) {
  sys::UringRing ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = 64;
  if (int rc = ring.init(8, p); rc < 0) GTEST_SKIP() << "io_uring not available: " << -rc;
  EXPECT_EQ(p.sq_entries, 8u);
  EXPECT_EQ(p.cq_entries, 64u);
  EXPECT_GE(ring.fd(), 0);
}

}  // namespace
}  // namespace zcnet

namespace zcnet {
namespace {

TEST(UringRingCache, AnIdleRingGivenBackIsTheNextOneTaken) {
  int rc = 0;
  sys::UringRing a = sys::take_ring(16, rc);
  if (rc < 0) GTEST_SKIP() << "io_uring not available";
  io_uring* first = a.get();
  sys::give_back_ring(std::move(a), 16);
  sys::UringRing b = sys::take_ring(16, rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(b.get(), first) << "the cached ring is reused, not re-created";
  sys::UringRing other_size = sys::take_ring(4, rc);
  ASSERT_EQ(rc, 0);
  EXPECT_NE(other_size.get(), first);
}

TEST(UringRingCache, ARingWithAnUnreapedCompletionIsClosedNotCached) {
  int rc = 0;
  sys::UringRing a = sys::take_ring(16, rc);
  if (rc < 0) GTEST_SKIP() << "io_uring not available";
  io_uring_prep_nop(io_uring_get_sqe(a.get()));
  ASSERT_EQ(io_uring_submit_and_wait(a.get(), 1), 1);
  ASSERT_EQ(io_uring_cq_ready(a.get()), 1u);
  sys::give_back_ring(std::move(a), 16);
  sys::UringRing b = sys::take_ring(16, rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(io_uring_cq_ready(b.get()), 0u) << "a taken ring never holds another's completions";
  EXPECT_EQ(io_uring_sq_ready(b.get()), 0u);
}

}  // namespace
}  // namespace zcnet

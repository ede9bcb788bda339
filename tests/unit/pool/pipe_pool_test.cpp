// The pipe pool: nonblocking pipes sized as asked, reuse of empty pipes only.
#include "zcnet/pool/pipe_pool.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fstream>

#include "support.hpp"

namespace zcnet {
namespace {

std::size_t pipe_max_size() {
  std::size_t n = 0;
  std::ifstream("/proc/sys/fs/pipe-max-size") >> n;
  return n;
}

TEST(PipePool, Acquire_GivesANonblockingCloexecPipeOfTheAskedSize) {
  PipePool pool(256 * 1024);
  auto lease = pool.acquire();
  ASSERT_TRUE(lease) << lease.error().message();
  ASSERT_TRUE(*lease);
  for (int fd : {lease->read_fd(), lease->write_fd()}) {
    EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  }
  EXPECT_EQ(lease->capacity(), 256u * 1024);
  EXPECT_EQ(static_cast<std::size_t>(::fcntl(lease->write_fd(), F_GETPIPE_SZ)), lease->capacity());
  EXPECT_EQ(lease->buffered(), 0u);
  EXPECT_EQ(pool.stats().created, 1u);
}

TEST(PipePool, PipeBytesAboveTheKernelMaximum_AreClampedToIt) {
  const std::size_t max = pipe_max_size();
  if (max == 0) GTEST_SKIP() << "no /proc/sys/fs/pipe-max-size";
  PipePool pool(max * 4);
  EXPECT_EQ(pool.pipe_bytes(), max);
  auto lease = pool.acquire();
  ASSERT_TRUE(lease);
  EXPECT_LE(lease->capacity(), max);
}

TEST(PipePool, EmptyPipeGivenBack_IsReused) {
  PipePool pool(64 * 1024);
  int read_fd = -1;
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    read_fd = lease->read_fd();
  }
  EXPECT_EQ(pool.stats().idle, 1u);
  auto again = pool.acquire();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->read_fd(), read_fd);
  auto stats = pool.stats();
  EXPECT_EQ(stats.created, 1u);
  EXPECT_EQ(stats.reused, 1u);
  EXPECT_EQ(stats.idle, 0u);
}

TEST(PipePool, PipeDrainedAfterUse_IsReused) {
  PipePool pool(64 * 1024);
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    ASSERT_EQ(::write(lease->write_fd(), "abc", 3), 3);
    lease->filled(3);
    char buf[3];
    ASSERT_EQ(::read(lease->read_fd(), buf, 3), 3);
    lease->drained(3);
  }
  EXPECT_EQ(pool.stats().idle, 1u);
  EXPECT_EQ(pool.stats().discarded_nonempty, 0u);
}

TEST(PipePool, LeaseStillHoldingBytes_IsClosedNotPooled) {
  PipePool pool(64 * 1024);
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    ASSERT_EQ(::write(lease->write_fd(), "secret", 6), 6);
    lease->filled(6);
  }
  auto stats = pool.stats();
  EXPECT_EQ(stats.discarded_nonempty, 1u);
  EXPECT_EQ(stats.idle, 0u);
  auto next = pool.acquire();
  ASSERT_TRUE(next);
  int queued = -1;
  ASSERT_EQ(::ioctl(next->read_fd(), FIONREAD, &queued), 0);
  EXPECT_EQ(queued, 0) << "no transfer may read another's bytes";
}

TEST(PipePool, LeaseThatMiscountedItsBytes_IsStillNotPooled) {
  PipePool pool(64 * 1024);
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    ASSERT_EQ(::write(lease->write_fd(), "x", 1), 1);  // and no filled(1)
  }
  EXPECT_EQ(pool.stats().discarded_nonempty, 1u);
  EXPECT_EQ(pool.stats().idle, 0u);
}

TEST(PipePool, IdlePipesBeyondMaxIdle_AreClosed) {
  PipePool pool(64 * 1024, 2);
  {
    std::vector<PipeLease> leases;
    for (int i = 0; i < 5; ++i) {
      auto lease = pool.acquire();
      ASSERT_TRUE(lease);
      leases.push_back(std::move(*lease));
    }
  }
  EXPECT_EQ(pool.stats().idle, 2u);
  EXPECT_EQ(pool.stats().created, 5u);
}

TEST(PipePool, MovedLease_GoesBackOnce) {
  PipePool pool(64 * 1024);
  {
    auto lease = pool.acquire();
    ASSERT_TRUE(lease);
    PipeLease moved = std::move(*lease);
    PipeLease assigned;
    assigned = std::move(moved);
    EXPECT_FALSE(moved);  // NOLINT(bugprone-use-after-move): a moved-from lease is empty
    EXPECT_TRUE(assigned);
  }
  EXPECT_EQ(pool.stats().idle, 1u);
}

}  // namespace
}  // namespace zcnet

// Per-syscall timing: off, a syscall leaves no trace; on, each call through the sys wrappers lands
// in its syscall's histogram (errno as the syscall left it), a thread's counts outlive the
// thread, and the exposition carries one labelled histogram per syscall timed.
#include "zcnet/observe/syscall_timing.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

#include "sys/rw_posix.hpp"
#include "zcnet/observe/histogram.hpp"
#include "zcnet/observe/prometheus.hpp"

namespace zcnet {
namespace {

std::uint64_t timed(sys::Syscall which) {
  Histogram h;
  syscall_histogram(which, h);
  return h.count();
}

class SyscallTiming : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kObserve) GTEST_SKIP() << "built with ZCNET_OBSERVE=OFF";
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
  }
  void TearDown() override {
    set_syscall_timing(false);
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int fds_[2] = {-1, -1};
};

TEST_F(SyscallTiming, OffRecordsNothing_OnRecordsEveryCall) {
  set_syscall_timing(false);
  EXPECT_FALSE(syscall_timing());
  const std::uint64_t sends = timed(sys::Syscall::Send), recvs = timed(sys::Syscall::Recv);
  char buf[16] = "0123456789";
  ASSERT_TRUE(sys::send(fds_[0], buf, 10).ok());
  ASSERT_TRUE(sys::recv(fds_[1], buf, sizeof buf).ok());
  EXPECT_EQ(timed(sys::Syscall::Send), sends);
  EXPECT_EQ(timed(sys::Syscall::Recv), recvs);

  set_syscall_timing(true);
  EXPECT_TRUE(syscall_timing());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sys::send(fds_[0], buf, 10).ok());
    ASSERT_TRUE(sys::recv(fds_[1], buf, sizeof buf).ok());
  }
  EXPECT_EQ(timed(sys::Syscall::Send), sends + 5);
  EXPECT_EQ(timed(sys::Syscall::Recv), recvs + 5);
}

TEST_F(SyscallTiming, AFailedCallKeepsItsErrno) {
  set_syscall_timing(true);
  const std::uint64_t before = timed(sys::Syscall::Recv);
  char buf[4];
  const sys::IoResult r = sys::recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT);
  EXPECT_TRUE(r.would_block());
  EXPECT_EQ(errno, EAGAIN);  // the timer's clock read did not disturb it
  EXPECT_EQ(timed(sys::Syscall::Recv), before + 1);
}

TEST_F(SyscallTiming, AThreadsCountsOutliveIt) {
  set_syscall_timing(true);
  const std::uint64_t before = timed(sys::Syscall::Send);
  std::thread([&] {
    char b = 'x';
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(sys::send(fds_[0], &b, 1).ok());
  }).join();
  EXPECT_EQ(timed(sys::Syscall::Send), before + 3);
}

TEST_F(SyscallTiming, ExpositionHasOneHistogramPerSyscallTimed) {
  set_syscall_timing(true);
  char b = 'x';
  ASSERT_TRUE(sys::send(fds_[0], &b, 1).ok());
  std::string out;
  PrometheusText p(out);
  write_syscall_metrics(p);
  EXPECT_NE(out.find("zcnet_syscall_timing_enabled 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("# TYPE zcnet_syscall_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("zcnet_syscall_duration_seconds_bucket{syscall=\"send\",le=\"+Inf\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("zcnet_syscall_duration_seconds_count{syscall=\"send\"}"), std::string::npos);
  EXPECT_EQ(out.find("syscall=\"tee\""), std::string::npos) << out;  // never timed here
  set_syscall_timing(false);
  out.clear();
  write_syscall_metrics(p);
  EXPECT_NE(out.find("zcnet_syscall_timing_enabled 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("syscall=\"send\""), std::string::npos);  // off keeps what was counted
}

}  // namespace
}  // namespace zcnet

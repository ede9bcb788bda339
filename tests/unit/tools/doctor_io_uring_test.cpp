// What `zcnet doctor` says blocks io_uring, from the probe's errno and kernel.io_uring_disabled.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "doctor_system.hpp"

namespace zcnet::cli::doctor {
namespace {

Capabilities uring_failed(int err) {
  Capabilities c;
  c.io_uring = false;
  c.uring_setup_errno = err;
  return c;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

TEST(DoctorIoUring, On_NothingBlocksIt) {
  Capabilities c;
  c.io_uring = true;
  EXPECT_EQ(io_uring_blocked_by(c, 0), "");
}

TEST(DoctorIoUring, SysctlTwo_IsNamedAsTheCause) {
  EXPECT_TRUE(
      starts_with(io_uring_blocked_by(uring_failed(EPERM), 2), "kernel.io_uring_disabled=2"));
}

TEST(DoctorIoUring, SysctlOneAndEperm_NamesTheGroupRule) {
  EXPECT_TRUE(
      starts_with(io_uring_blocked_by(uring_failed(EPERM), 1), "kernel.io_uring_disabled=1"));
}

TEST(DoctorIoUring, EpermWithSysctlZero_PointsAtSeccomp) {
  const std::string why = io_uring_blocked_by(uring_failed(EPERM), 0);
  EXPECT_TRUE(starts_with(why, "EPERM from io_uring_setup")) << why;
  EXPECT_NE(why.find("seccomp"), std::string::npos) << why;
}

TEST(DoctorIoUring, NoSysctlAndEnosys_NamesTheErrno) {
  EXPECT_TRUE(starts_with(io_uring_blocked_by(uring_failed(ENOSYS), nullptr), "ENOSYS"));
}

TEST(DoctorIoUring, RingWorkedButTurnedOff_IsZcnetDisable) {
  EXPECT_TRUE(starts_with(io_uring_blocked_by(uring_failed(0), 0), "ZCNET_DISABLE"));
}

}  // namespace
}  // namespace zcnet::cli::doctor

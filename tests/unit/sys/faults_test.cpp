// The fault seam itself (sys/faults.hpp): seeded and replayable, each fault only where its call
// can meet it, descriptor calls failing only as the plan says, and a made-up EAGAIN or short
// count owing a wake-up to the descriptors it named and to the thread's next wait, once.
#include "sys/faults.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zcnet {
namespace {

using sys::Syscall;
using sys::faults::bit;
using sys::faults::Fault;
using sys::faults::FdCall;

#if ZCNET_FAULTS

std::vector<int> fd_results(std::uint64_t seed) {
  const sys::faults::Armed armed({.seed = seed, .one_in = 3});
  std::vector<int> r;
  for (int i = 0; i < 200; ++i) r.push_back(sys::faults::inject_fd(FdCall::Accept));
  return r;
}

TEST(Faults, SameSeedSameFaults_OnlyEmfileOrEnfileFromDescriptorCalls) {
  const std::vector<int> a = fd_results(7), b = fd_results(7), c = fd_results(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int failed = 0;
  for (int e : a) {
    EXPECT_TRUE(e == 0 || e == EMFILE || e == ENFILE) << e;
    failed += e != 0;
  }
  EXPECT_GT(failed, 30);  // one in three of 200, give or take
  EXPECT_LT(failed, 110);
}

TEST(Faults, FdCallsMask_OnlyTheNamedCallsFail) {
  const sys::faults::Armed armed({.seed = 1, .one_in = 1, .fd_calls = bit(FdCall::Pipe)});
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sys::faults::inject_fd(FdCall::Accept), 0);
    EXPECT_EQ(sys::faults::inject_fd(FdCall::Open), 0);
    EXPECT_EQ(sys::faults::inject_fd(FdCall::Socket), 0);
    EXPECT_NE(sys::faults::inject_fd(FdCall::Pipe), 0);
  }
  EXPECT_EQ(armed.counts().injected[static_cast<unsigned>(Fault::Emfile)] +
                armed.counts().injected[static_cast<unsigned>(Fault::Enfile)],
            50u);
}

TEST(Faults, EagainOnlyWhereACallNamesItsDescriptors_AndNeverFromReadOrWrite) {
  const sys::faults::Armed armed({.seed = 3, .one_in = 1, .kinds = bit(Fault::Eagain)});
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sys::faults::inject(Syscall::Send, 100, {}).err, 0);  // the reactor's own call
    EXPECT_EQ(sys::faults::inject(Syscall::Read, 100, {5}).err, 0);
    EXPECT_EQ(sys::faults::inject(Syscall::Write, 100, {5}).err, 0);
    EXPECT_EQ(sys::faults::inject(Syscall::Send, 100, {5}).err, EAGAIN);
  }
  (void)sys::faults::take_injected_eagain(5);
}

TEST(Faults, MadeUpEagain_OwesOneWakeToEachNamedFdAndToTheNextWait) {
  {
    const sys::faults::Armed armed({.seed = 3, .one_in = 1, .kinds = bit(Fault::Eagain)});
    ASSERT_EQ(sys::faults::inject(Syscall::Splice, 100, {5, 9}).err, EAGAIN);
  }
  EXPECT_TRUE(sys::faults::take_injected_eagain(42));  // the thread's next wait, whatever its fd
  EXPECT_FALSE(sys::faults::take_injected_eagain(42));
  EXPECT_TRUE(sys::faults::take_injected_eagain(9));
  EXPECT_FALSE(sys::faults::take_injected_eagain(9));
  EXPECT_TRUE(sys::faults::take_injected_eagain(5));
  EXPECT_FALSE(sys::faults::take_injected_eagain(5));
}

TEST(Faults, MadeUpShortCount_OwesAWakeAndShortens) {
  {
    const sys::faults::Armed armed({.seed = 4, .one_in = 1, .kinds = bit(Fault::Short)});
    const sys::faults::Injected f = sys::faults::inject(Syscall::Sendfile, 1000, {11});
    EXPECT_EQ(f.err, 0);
    EXPECT_GE(f.len, 1u);
    EXPECT_LT(f.len, 1000u);
  }
  EXPECT_TRUE(sys::faults::take_injected_eagain(11));
  EXPECT_FALSE(sys::faults::take_injected_eagain(11));
}

TEST(Faults, ArmProcess_ReachesThreadsWithoutAnArmedAndDisarmEndsIt) {
  sys::faults::arm_process({.seed = 2, .one_in = 1, .kinds = bit(Fault::Emfile)});
  EXPECT_EQ(sys::faults::inject_fd(FdCall::Socket), EMFILE);
  sys::faults::disarm_process();
  EXPECT_EQ(sys::faults::inject_fd(FdCall::Socket), 0);
  sys::faults::arm_process({.seed = 2, .one_in = 1, .kinds = bit(Fault::Enfile)});
  EXPECT_EQ(sys::faults::inject_fd(FdCall::Socket), ENFILE);  // the new plan, not the old one
  sys::faults::disarm_process();
}

#else

TEST(Faults, CompiledIntoTheAsanAndTsanBuildsOnly) {
  EXPECT_EQ(sys::faults::inject_fd(FdCall::Accept), 0);
  EXPECT_EQ(sys::faults::inject(Syscall::Send, 10, {3}).len, 10u);
  EXPECT_FALSE(sys::faults::take_injected_eagain(3));
}

#endif

}  // namespace
}  // namespace zcnet

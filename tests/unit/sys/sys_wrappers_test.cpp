// The thin syscall wrappers: errors as values, and no SIGPIPE from a broken pipe or reset peer.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "support.hpp"
#include "sys/mmap_posix.hpp"
#include "sys/rw_posix.hpp"
#include "sys/sigpipe_posix.hpp"
#include "zcnet/sys/sigpipe.hpp"

namespace zcnet {
namespace {

bool sigpipe_blocked() {
  sigset_t now;
  sigemptyset(&now);
  ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, SIGPIPE) == 1;
}

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

TEST(SigpipeBlock, WriteToPipeWithoutReader_IsEpipeAndLeavesNoSignalBehind) {
  auto [r, w] = test::make_pipe();
  r.reset();
  ASSERT_FALSE(sigpipe_blocked());
  {
    sys::SigpipeBlock guard;
    EXPECT_TRUE(sigpipe_blocked());
    sys::IoResult res = sys::write(w.get(), "x", 1);
    EXPECT_EQ(res.err, EPIPE);
  }
  EXPECT_FALSE(sigpipe_pending());
  EXPECT_FALSE(sigpipe_blocked()) << "the thread's mask is restored";
}

// Runs in a death-test child (the disposition is process-wide): once SIGPIPE is ignored through
// the engine, the guard leaves the thread's mask alone and a write into a closed pipe is still
// EPIPE. Exit code 0 when all of that held.
int write_to_closed_pipe_with_sigpipe_ignored() {
  auto [r, w] = test::make_pipe();
  r.reset();
  bool ok = ignore_sigpipe_process_wide();
  struct sigaction now {};
  ok = ok && ::sigaction(SIGPIPE, nullptr, &now) == 0 && now.sa_handler == SIG_IGN;
  {
    sys::SigpipeBlock guard;
    ok = ok && !sigpipe_blocked();
    ok = ok && sys::write(w.get(), "x", 1).err == EPIPE;
  }
  ok = ok && !sigpipe_pending() && !sigpipe_blocked();
  return ok ? 0 : 1;
}

TEST(SigpipeBlock, AfterIgnoreSigpipeProcessWide_TouchesNoMaskAndWriteIsStillEpipe) {
  EXPECT_EXIT(std::_Exit(write_to_closed_pipe_with_sigpipe_ignored()), ::testing::ExitedWithCode(0),
              "");
}

TEST(RwPosix, SendToResetPeer_IsATypedErrorNotSigpipe) {
  auto [c, s] = test::tcp_pair();
  linger lg{1, 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  s.reset();
  usleep(20000);
  sys::IoResult res = sys::send(c.get(), "x", 1);
  for (int i = 0; i < 10 && res.ok(); ++i) res = sys::send(c.get(), "x", 1);
  EXPECT_TRUE(res.err == EPIPE || res.err == ECONNRESET) << res.err;
}

TEST(RwPosix, ReadOnNonblockingEmptySocket_WouldBlock) {
  auto [c, s] = test::unix_pair();
  test::set_nonblocking(s.get());
  char buf[4];
  sys::IoResult res = sys::read(s.get(), buf, sizeof buf);
  EXPECT_TRUE(res.would_block());
  EXPECT_EQ(res.n, 0u);
}

TEST(RwPosix, PreadAndPwrite_UseTheGivenOffsetNotThePosition) {
  test::TempFile f = test::TempFile::empty();
  ASSERT_TRUE(sys::pwrite(f.fd(), "abcdef", 6, 10).ok());
  EXPECT_EQ(::lseek(f.fd(), 0, SEEK_CUR), 0);
  char buf[3];
  sys::IoResult res = sys::pread(f.fd(), buf, 3, 12);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(std::string(buf, res.n), "cde");
}

TEST(Mapping, UnalignedOffset_PointsAtThatByteAndMovesOwnership) {
  test::TempFile f = test::TempFile::with_pattern(3 * 4096);
  auto mapped = sys::Mapping::map_read(f.fd(), 4097, 100);
  ASSERT_TRUE(mapped) << mapped.error().message();
  EXPECT_EQ(mapped->size(), 100u);
  sys::Mapping moved = std::move(*mapped);
  EXPECT_FALSE(*mapped);  // NOLINT(bugprone-use-after-move): moved-from is empty
  ASSERT_TRUE(moved);
  // Reading mapped bytes from user space is fine in a test whose file does not shrink.
  EXPECT_EQ(test::hash_bytes(moved.data(), moved.size()), f.hash(4097, 100));
}

TEST(Mapping, EmptyRange_IsEinval) {
  test::TempFile f = test::TempFile::with_pattern(10);
  auto mapped = sys::Mapping::map_read(f.fd(), 0, 0);
  ASSERT_FALSE(mapped);
  EXPECT_EQ(mapped.error().code(), EINVAL);
}

}  // namespace
}  // namespace zcnet

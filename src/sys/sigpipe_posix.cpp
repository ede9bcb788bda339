#include "sys/sigpipe_posix.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace zcnet::sys {

namespace {

sigset_t sigpipe_set() noexcept {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGPIPE);
  return s;
}

}  // namespace

SigpipeBlock::SigpipeBlock() noexcept {
  const sigset_t pipe = sigpipe_set();
  sigemptyset(&old_mask_);
  if (::pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_) == 0)
    restore_ = sigismember(&old_mask_, SIGPIPE) == 0;
}

SigpipeBlock::~SigpipeBlock() {
  sigset_t pending;
  sigemptyset(&pending);
  if (::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
    const sigset_t pipe = sigpipe_set();
    const timespec zero{0, 0};
    while (::sigtimedwait(&pipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  if (restore_) ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace zcnet::sys

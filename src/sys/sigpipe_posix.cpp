#include "sys/sigpipe_posix.hpp"

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <ctime>

#include "zcnet/sys/sigpipe.hpp"

namespace zcnet {

namespace {
// Set once SIGPIPE is SIG_IGN process-wide by ignore_sigpipe_process_wide(): never cleared.
std::atomic<bool> sigpipe_ignored{false};
}  // namespace

bool ignore_sigpipe_process_wide() noexcept {
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGPIPE, &sa, nullptr) != 0) return false;
  sigpipe_ignored.store(true, std::memory_order_release);
  return true;
}

}  // namespace zcnet

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
  if (sigpipe_ignored.load(std::memory_order_acquire)) return;
  active_ = true;
  const sigset_t pipe = sigpipe_set();
  sigemptyset(&old_mask_);
  if (::pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_) == 0)
    restore_ = sigismember(&old_mask_, SIGPIPE) == 0;
}

SigpipeBlock::~SigpipeBlock() {
  if (!active_) return;
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

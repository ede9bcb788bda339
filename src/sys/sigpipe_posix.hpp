// Private: keeps SIGPIPE away from the calling thread for syscalls that have no MSG_NOSIGNAL
// (write to a pipe, sendfile, splice, tee). A reader that went away or a reset peer then shows
// only as EPIPE / ECONNRESET, whatever the process's SIGPIPE disposition.
#pragma once

#include <signal.h>

namespace zcnet::sys {

// While a SigpipeBlock lives, SIGPIPE is blocked in this thread. The kernel sends SIGPIPE to the
// thread that made the failing call, so on destruction a pending SIGPIPE is consumed
// (sigtimedwait, zero timeout) before the old mask comes back; a SIGPIPE that was already pending
// and blocked when the guard was made is consumed too (unblocked, it could only kill the process).
// Cost: three cheap syscalls per guard; strategies hold one per step, never per byte. None once
// the process ignores SIGPIPE through zcnet::ignore_sigpipe_process_wide().
class SigpipeBlock {
 public:
  SigpipeBlock() noexcept;
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool active_ = false;   // the mask was touched (SIGPIPE not known to be ignored)
  bool restore_ = false;  // SIGPIPE was unblocked before
};

}  // namespace zcnet::sys

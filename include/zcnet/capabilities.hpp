// What this kernel allows, probed once at runtime (DESIGN invariant 5): a missing feature means
// fallback, never a crash.
#pragma once

#include <cstddef>
#include <string>

#include "zcnet/strategy.hpp"

namespace zcnet {

struct Capabilities {
  bool sendfile = false;
  bool splice = false;
  bool tee = false;
  bool msg_zerocopy = false;           // SO_ZEROCOPY accepted on a TCP socket
  bool io_uring = false;               // a ring could be set up (not disabled by sysctl/seccomp)
  bool uring_send_zc = false;          // IORING_OP_SEND_ZC supported
  bool uring_splice = false;           // IORING_OP_SPLICE supported
  bool uring_fixed_buffers = false;    // buffers could be registered
  std::size_t pipe_max_bytes = 65536;  // /proc/sys/fs/pipe-max-size (what F_SETPIPE_SZ may ask)
  std::string kernel;                  // uname release

  // Probes once per process and caches. ZCNET_DISABLE=a,b,... turns features off, by strategy
  // name (sendfile, splice, tee, msg-zerocopy, uring-send, uring-send-zc, uring-splice) or
  // "io_uring" for every io_uring feature.
  static const Capabilities& probe();
  // Nothing but read/write and mmap: the portable floor.
  static Capabilities portable();

  bool allows(StrategyKind k) const noexcept;
  // A copy with what `k` needs turned off (tests use it to force every fallback path).
  Capabilities without(StrategyKind k) const;
};

// Sets SIGPIPE to SIG_IGN for the whole process and tells the engine: sendfile, splice, tee and
// writes into pipes then skip the per-step SIGPIPE mask they otherwise hold (two or three
// syscalls a step), since an ignored SIGPIPE can neither kill nor interrupt. For programs that own
// their signal dispositions (the zcnet command does); a program that later gives SIGPIPE a
// handler or SIG_DFL again must not call it. Returns false (and changes nothing) if sigaction
// fails.
bool ignore_sigpipe_process_wide() noexcept;

}  // namespace zcnet

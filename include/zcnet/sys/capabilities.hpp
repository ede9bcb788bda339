// What this kernel allows, probed once at runtime (docs/architecture.md, invariant 5):
// a missing feature means fallback, never a crash. This is the one io_uring probe and the one
// reader of ZCNET_DISABLE; the transfer layer maps strategies onto these fields and the loop
// picks its backend from them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace zcnet {

struct Capabilities {
  bool sendfile = false;
  bool splice = false;
  bool tee = false;
  bool msg_zerocopy = false;         // SO_ZEROCOPY accepted on a TCP socket
  bool io_uring = false;             // a ring could be set up (not disabled by sysctl/seccomp)
  bool uring_send = false;           // IORING_OP_SEND supported
  bool uring_send_zc = false;        // IORING_OP_SEND_ZC supported
  bool uring_splice = false;         // IORING_OP_SPLICE supported
  bool uring_fixed_buffers = false;  // buffers could be registered
  bool uring_loop = false;           // everything the io_uring loop backend uses (see probe)
  // The errno io_uring_setup failed with (EPERM: seccomp or kernel.io_uring_disabled; ENOSYS: no
  // io_uring here), or 0 if a ring could be set up (io_uring may still be off by ZCNET_DISABLE).
  int uring_setup_errno = 0;
  std::size_t pipe_max_bytes = 65536;  // /proc/sys/fs/pipe-max-size (what F_SETPIPE_SZ may ask)
  std::string kernel;                  // uname release

  // Probes once per process and caches, then applies ZCNET_DISABLE (see disable()).
  static const Capabilities& probe();
  // Nothing but read/write and mmap: the portable floor.
  static Capabilities portable();

  // Turns a feature off by name, as ZCNET_DISABLE=a,b,... does: a strategy name (sendfile,
  // splice, tee, msg-zerocopy, uring-send, uring-send-zc, uring-splice) turns off what that
  // strategy needs, and "uring" or "io_uring" turns off every io_uring feature, the io_uring loop
  // backend included. False (and nothing changed) for a name it does not know.
  bool disable(std::string_view name) noexcept;
  // Applies a comma-separated list; returns the names it did not know, comma-separated.
  std::string disable_list(std::string_view list);
};

}  // namespace zcnet

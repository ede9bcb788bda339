// MSG_ZEROCOPY (Documentation/networking/msg_zerocopy.rst): enable it on a socket, send with it,
// and read the completion notifications the kernel queues on the socket's error queue.
// Helpers return a negative errno, never a global errno (liburing style).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zcnet::sys {

// setsockopt(SO_ZEROCOPY, 1). 0 or -errno (ENOPROTOOPT / EOPNOTSUPP on kernels or sockets without
// it).
int enable_zerocopy(int socket_fd) noexcept;

// One sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT if `nonblocking` | MSG_ZEROCOPY if `zerocopy`).
// Bytes accepted or -errno. EINTR is retried here.
// Zero-copy: the kernel keeps reading `bytes` after this returns, until the notification whose
// range covers this call arrives (see read_zerocopy_notification).
long send_zerocopy(int socket_fd, std::span<const std::byte> bytes, bool zerocopy,
                   bool nonblocking) noexcept;

// One notification: the MSG_ZEROCOPY sendmsg calls numbered first..last (inclusive, 32-bit
// counter that wraps) were released by the kernel. `copied`: SO_EE_CODE_ZEROCOPY_COPIED, the
// kernel copied the data after all (always on loopback; also when the device cannot do it).
struct ZerocopyRange {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  bool copied = false;
  std::uint32_t count() const noexcept { return last - first + 1; }  // wrap-safe
};

// One recvmsg(MSG_ERRQUEUE | MSG_DONTWAIT). 1 = `out` filled, 0 = queue empty (EAGAIN),
// -errno on failure. -ENOMSG: the queue held something that is not a zero-copy notification
// (an ICMP error, a timestamp), which was consumed and should be ignored.
int read_zerocopy_notification(int socket_fd, ZerocopyRange& out) noexcept;

}  // namespace zcnet::sys

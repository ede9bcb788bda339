#include "sys/zerocopy_linux.hpp"

#include "sys/faults.hpp"

// clang-format off
#include <time.h>  // before linux/errqueue.h, which needs struct timespec
#include <linux/errqueue.h>
// clang-format on
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace zcnet::sys {

int enable_zerocopy(int socket_fd) noexcept {
  int one = 1;
  if (::setsockopt(socket_fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0) return -errno;
  return 0;
}

long send_zerocopy(int socket_fd, std::span<const std::byte> bytes, bool zerocopy,
                   bool nonblocking) noexcept {
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  const int flags = MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0) | (zerocopy ? MSG_ZEROCOPY : 0);
  for (;;) {
    const faults::Injected f = faults::inject(Syscall::Sendmsg, bytes.size(), {socket_fd});
    if (f.err == EINTR) continue;
    if (f.err) return -f.err;
    iov.iov_len = f.len;
    ssize_t n = ::sendmsg(socket_fd, &msg, flags);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

int read_zerocopy_notification(int socket_fd, ZerocopyRange& out) noexcept {
  // Room for one sock_extended_err plus the offender address of either family.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6))];
  msghdr msg{};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(socket_fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    const bool ip = (cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                    (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR);
    if (!ip) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(cm), sizeof ee);
    if (ee.ee_errno != 0 || ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
    out.first = ee.ee_info;
    out.last = ee.ee_data;
    out.copied = (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) != 0;
    return 1;
  }
  return -ENOMSG;
}

}  // namespace zcnet::sys

#include "sys/rw_posix.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <limits>

#include "zcnet/sys/syscall_timing.hpp"

#if defined(__linux__) && defined(__LP64__)
#include <sys/syscall.h>
#endif

namespace zcnet::sys {

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kNoSignal = MSG_NOSIGNAL;
#else
constexpr int kNoSignal = 0;  // BSD/macOS: SO_NOSIGPIPE on the socket instead
#endif

// Runs `call` until it is not interrupted by a signal, timed as `which` while timing is on.
template <class Call>
IoResult retry(Syscall which, Call call) noexcept {
  const SyscallTimer timer(which);
  for (;;) {
    IoResult r = io_result(call());
    if (r.err != EINTR) return r;
  }
}

// glibc's wrappers for recv, sendmsg, pread and the like are cancellation points: each call
// switches the thread to asynchronous cancellation and back around the syscall. zcnet never
// cancels a thread, and a server makes several of these calls per request, so on 64-bit Linux the
// calls below that run per request go to the kernel through syscall(2) (not a cancellation point;
// 32-bit ABIs pass pread's offset in two registers, so they keep the wrappers).
#if defined(__linux__) && defined(__LP64__)
ssize_t raw_recv(int fd, void* buf, std::size_t len, int flags) noexcept {
  return ::syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr);
}
ssize_t raw_send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  return ::syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}
ssize_t raw_sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}
ssize_t raw_pread(int fd, void* buf, std::size_t len, off_t offset) noexcept {
  return ::syscall(SYS_pread64, fd, buf, len, offset);
}
#else
ssize_t raw_recv(int fd, void* buf, std::size_t len, int flags) noexcept {
  return ::recv(fd, buf, len, flags);
}
ssize_t raw_send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  return ::send(fd, buf, len, flags);
}
ssize_t raw_sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return ::sendmsg(fd, msg, flags);
}
ssize_t raw_pread(int fd, void* buf, std::size_t len, off_t offset) noexcept {
  return ::pread(fd, buf, len, offset);
}
#endif

bool fits_off_t(std::uint64_t offset) noexcept {
  return offset <= static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
}

}  // namespace

IoResult read(int fd, void* buf, std::size_t len) noexcept {
  return retry(Syscall::Read, [&] { return ::read(fd, buf, len); });
}

IoResult pread(int fd, void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry(Syscall::Pread, [&] { return raw_pread(fd, buf, len, static_cast<off_t>(offset)); });
}

IoResult write(int fd, const void* buf, std::size_t len) noexcept {
  return retry(Syscall::Write, [&] { return ::write(fd, buf, len); });
}

IoResult pwrite(int fd, const void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry(Syscall::Pwrite, [&] { return ::pwrite(fd, buf, len, static_cast<off_t>(offset)); });
}

IoResult writev(int fd, const iovec* iov, int count) noexcept {
  return retry(Syscall::Writev, [&] { return ::writev(fd, iov, count); });
}

IoResult send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  return retry(Syscall::Send, [&] { return raw_send(fd, buf, len, flags | kNoSignal); });
}

IoResult recv(int fd, void* buf, std::size_t len, int flags) noexcept {
  return retry(Syscall::Recv, [&] { return raw_recv(fd, buf, len, flags); });
}

IoResult sendv(int fd, const iovec* iov, int count, int flags) noexcept {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);  // sendmsg does not write through it
  msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
  return retry(Syscall::Sendmsg, [&] { return raw_sendmsg(fd, &msg, flags | kNoSignal); });
}

}  // namespace zcnet::sys

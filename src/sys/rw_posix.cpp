#include "sys/rw_posix.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <limits>

#include "sys/faults.hpp"
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

// Runs `call(len)` on `fd` until it is not interrupted by a signal, timed as `which` while timing
// is on. `len` is what the call asks for (0 for a vector: never shortened by fault injection).
template <class Call>
IoResult retry(Syscall which, int fd, std::size_t len, Call call) noexcept {
  const SyscallTimer timer(which);
  for (;;) {
    const faults::Injected f = faults::inject(which, len, {fd});
    IoResult r = f.err ? IoResult{0, f.err} : io_result(call(f.len));
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
  return retry(Syscall::Read, fd, len, [&](std::size_t n) { return ::read(fd, buf, n); });
}

IoResult pread(int fd, void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry(Syscall::Pread, fd, len,
               [&](std::size_t n) { return raw_pread(fd, buf, n, static_cast<off_t>(offset)); });
}

IoResult write(int fd, const void* buf, std::size_t len) noexcept {
  return retry(Syscall::Write, fd, len, [&](std::size_t n) { return ::write(fd, buf, n); });
}

IoResult pwrite(int fd, const void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry(Syscall::Pwrite, fd, len,
               [&](std::size_t n) { return ::pwrite(fd, buf, n, static_cast<off_t>(offset)); });
}

IoResult writev(int fd, const iovec* iov, int count) noexcept {
  return retry(Syscall::Writev, fd, 0, [&](std::size_t) { return ::writev(fd, iov, count); });
}

IoResult send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  return retry(Syscall::Send, fd, len,
               [&](std::size_t n) { return raw_send(fd, buf, n, flags | kNoSignal); });
}

IoResult recv(int fd, void* buf, std::size_t len, int flags) noexcept {
  return retry(Syscall::Recv, fd, len, [&](std::size_t n) { return raw_recv(fd, buf, n, flags); });
}

IoResult sendv(int fd, const iovec* iov, int count, int flags) noexcept {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);  // sendmsg does not write through it
  msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
  return retry(Syscall::Sendmsg, fd, 0,
               [&](std::size_t) { return raw_sendmsg(fd, &msg, flags | kNoSignal); });
}

}  // namespace zcnet::sys

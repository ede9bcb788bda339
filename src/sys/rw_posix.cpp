#include "sys/rw_posix.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <limits>

namespace zcnet::sys {

namespace {

#ifdef MSG_NOSIGNAL
constexpr int kNoSignal = MSG_NOSIGNAL;
#else
constexpr int kNoSignal = 0;  // BSD/macOS: SO_NOSIGPIPE on the socket instead
#endif

// Runs `call` until it is not interrupted by a signal.
template <class Call>
IoResult retry(Call call) noexcept {
  for (;;) {
    IoResult r = io_result(call());
    if (r.err != EINTR) return r;
  }
}

bool fits_off_t(std::uint64_t offset) noexcept {
  return offset <= static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
}

}  // namespace

IoResult read(int fd, void* buf, std::size_t len) noexcept {
  return retry([&] { return ::read(fd, buf, len); });
}

IoResult pread(int fd, void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry([&] { return ::pread(fd, buf, len, static_cast<off_t>(offset)); });
}

IoResult write(int fd, const void* buf, std::size_t len) noexcept {
  return retry([&] { return ::write(fd, buf, len); });
}

IoResult pwrite(int fd, const void* buf, std::size_t len, std::uint64_t offset) noexcept {
  if (!fits_off_t(offset)) return IoResult{0, EOVERFLOW};
  return retry([&] { return ::pwrite(fd, buf, len, static_cast<off_t>(offset)); });
}

IoResult writev(int fd, const iovec* iov, int count) noexcept {
  return retry([&] { return ::writev(fd, iov, count); });
}

IoResult send(int fd, const void* buf, std::size_t len, int flags) noexcept {
  return retry([&] { return ::send(fd, buf, len, flags | kNoSignal); });
}

IoResult sendv(int fd, const iovec* iov, int count, int flags) noexcept {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);  // sendmsg does not write through it
  msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
  return retry([&] { return ::sendmsg(fd, &msg, flags | kNoSignal); });
}

}  // namespace zcnet::sys

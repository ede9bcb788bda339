// Private: thin read/write wrappers. Results are values (bytes, errno), EINTR is retried, and a
// socket write never raises SIGPIPE (MSG_NOSIGNAL): a reset peer is EPIPE or ECONNRESET.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace zcnet::sys {

// One syscall's result: `n` bytes when err == 0, else the errno (and n == 0).
struct IoResult {
  std::size_t n = 0;
  int err = 0;

  bool ok() const noexcept { return err == 0; }
  bool would_block() const noexcept { return err == EAGAIN || err == EWOULDBLOCK; }
};

// Converts a syscall's return value (-1 and errno on failure).
inline IoResult io_result(ssize_t rc) noexcept {
  if (rc < 0) return IoResult{0, errno};
  return IoResult{static_cast<std::size_t>(rc), 0};
}

IoResult read(int fd, void* buf, std::size_t len) noexcept;
IoResult pread(int fd, void* buf, std::size_t len, std::uint64_t offset) noexcept;
// write() on a pipe whose reader is gone raises SIGPIPE: hold a SigpipeBlock around it.
IoResult write(int fd, const void* buf, std::size_t len) noexcept;
IoResult pwrite(int fd, const void* buf, std::size_t len, std::uint64_t offset) noexcept;
IoResult writev(int fd, const iovec* iov, int count) noexcept;
// Sockets only. MSG_NOSIGNAL is always added to `flags`.
IoResult send(int fd, const void* buf, std::size_t len, int flags = 0) noexcept;
IoResult sendv(int fd, const iovec* iov, int count, int flags = 0) noexcept;
IoResult recv(int fd, void* buf, std::size_t len, int flags = 0) noexcept;

}  // namespace zcnet::sys

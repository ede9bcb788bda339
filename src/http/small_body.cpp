#include "http/small_body.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include "sys/rw_posix.hpp"

namespace zcnet::http {

Result<SmallBody> read_small_body(std::span<std::byte> into, int fd, std::uint64_t offset) {
  std::size_t got = 0;
  while (got < into.size()) {
    auto r = sys::pread(fd, into.data() + got, into.size() - got, offset + got);
    if (!r.ok()) return Error(r.err, "pread", describe_fd(fd));
    if (r.n == 0) return Error(ENODATA, "pread", "the file is shorter than its cached size");
    got += r.n;
  }
  SmallBody body;
  body.data = into;
  return body;
}

Result<SmallBody> read_small_body(BufferPool& pool, int fd, std::uint64_t offset,
                                  std::size_t length) {
  // A pool buffer, not an allocation: released when the response has been sent.
  auto buf = pool.acquire(length == 0 ? 1 : length);
  if (!buf) return std::move(buf).error();
  auto body = read_small_body(buf->span().first(length), fd, offset);
  if (body) body->buffer = std::move(*buf);
  return body;
}

Result<std::size_t> send_head_and_body(int sock, std::span<const std::byte> head,
                                       std::span<const std::byte> body) {
  // SAFETY: the kernel reads both iovecs during the call only; they outlive it.
  iovec iov[2] = {{const_cast<std::byte*>(head.data()), head.size()},
                  {const_cast<std::byte*>(body.data()), body.size()}};
  auto r = sys::sendv(sock, iov, body.empty() ? 1 : 2, MSG_DONTWAIT);
  if (r.would_block()) return std::size_t{0};
  if (!r.ok()) return Error(r.err, "sendmsg", describe_fd(sock));
  return r.n;
}

}  // namespace zcnet::http

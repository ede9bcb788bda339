#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "http/small_body.hpp"
#include "sys/rw_posix.hpp"
#include "sys/sendfile_linux.hpp"
#include "sys/sigpipe_posix.hpp"

namespace zcnet::http {

SentNow send_file_now(int sock, std::span<const std::byte> head, int fd, std::uint64_t offset,
                      std::uint64_t length) {
  SentNow s;
  while (s.head < head.size()) {
    const sys::IoResult n = sys::send(sock, head.data() + s.head, head.size() - s.head,
                                      MSG_DONTWAIT | (length > 0 ? MSG_MORE : 0));
    if (!n.ok()) {
      if (!n.would_block()) s.error = Error(n.err, "send", describe_fd(sock));
      return s;
    }
    s.head += n.n;
  }
  const sys::SigpipeBlock no_sigpipe;  // sendfile has no MSG_NOSIGNAL
  while (s.body < length) {
    std::uint64_t at = offset + s.body;
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(length - s.body, 1u << 30));
    const sys::IoResult r = sys::sendfile(sock, fd, at, len);
    if (r.would_block()) return s;
    if (!r.ok()) {
      // Not for this pair of fds (a file system without splice_read): nothing of the body has
      // left, so the caller's transfer falls back to another strategy.
      if (s.body == 0 && sys::sendfile_unsupported(r.err)) return s;
      s.error = Error(r.err, "sendfile", describe_fd(fd) + " -> " + describe_fd(sock));
      return s;
    }
    if (r.n == 0) {
      s.error = Error(ENODATA, "sendfile", describe_fd(fd) + ": the file ended early");
      return s;
    }
    s.body += r.n;
  }
  return s;
}

}  // namespace zcnet::http

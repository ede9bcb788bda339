#include "zcnet/error.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zcnet {

std::string_view errno_name(int code) noexcept {
  switch (code) {
#define ZCNET_ERRNO(e) \
  case e: return #e;
    ZCNET_ERRNO(EPERM) ZCNET_ERRNO(ENOENT) ZCNET_ERRNO(EINTR) ZCNET_ERRNO(EIO)
    ZCNET_ERRNO(EBADF) ZCNET_ERRNO(EAGAIN) ZCNET_ERRNO(ENOMEM) ZCNET_ERRNO(EACCES)
    ZCNET_ERRNO(EFAULT) ZCNET_ERRNO(EBUSY) ZCNET_ERRNO(EEXIST) ZCNET_ERRNO(ENODEV)
    ZCNET_ERRNO(ENOTDIR) ZCNET_ERRNO(EISDIR) ZCNET_ERRNO(EINVAL) ZCNET_ERRNO(ENFILE)
    ZCNET_ERRNO(EMFILE) ZCNET_ERRNO(EFBIG) ZCNET_ERRNO(ENOSPC) ZCNET_ERRNO(ESPIPE)
    ZCNET_ERRNO(EPIPE) ZCNET_ERRNO(ERANGE) ZCNET_ERRNO(ENOSYS) ZCNET_ERRNO(ENODATA)
    ZCNET_ERRNO(ETIME) ZCNET_ERRNO(EOVERFLOW) ZCNET_ERRNO(ENOTSOCK) ZCNET_ERRNO(EMSGSIZE)
    ZCNET_ERRNO(EOPNOTSUPP) ZCNET_ERRNO(EADDRINUSE) ZCNET_ERRNO(EADDRNOTAVAIL)
    ZCNET_ERRNO(ENETDOWN) ZCNET_ERRNO(ENETUNREACH) ZCNET_ERRNO(ECONNABORTED)
    ZCNET_ERRNO(ECONNRESET) ZCNET_ERRNO(ENOBUFS) ZCNET_ERRNO(EISCONN) ZCNET_ERRNO(ENOTCONN)
    ZCNET_ERRNO(ETIMEDOUT) ZCNET_ERRNO(ECONNREFUSED) ZCNET_ERRNO(EHOSTUNREACH)
    ZCNET_ERRNO(EALREADY) ZCNET_ERRNO(EINPROGRESS) ZCNET_ERRNO(ECANCELED) ZCNET_ERRNO(E2BIG)
    ZCNET_ERRNO(ENXIO) ZCNET_ERRNO(ESRCH) ZCNET_ERRNO(EROFS) ZCNET_ERRNO(ENAMETOOLONG)
    ZCNET_ERRNO(ELOOP) ZCNET_ERRNO(EXDEV) ZCNET_ERRNO(EPROTO) ZCNET_ERRNO(EBADMSG)
#undef ZCNET_ERRNO
    default: return "E?";
  }
}

std::string_view Error::errno_name() const noexcept { return zcnet::errno_name(code_); }

std::string Error::message() const {
  std::string out = fmt::format("{}: {} ({})", op_, errno_name(), std::strerror(code_));
  if (!context_.empty()) {
    out += ": ";
    out += context_;
  }
  return out;
}

Error last_error(std::string_view op, std::string context) {
  return Error(errno, op, std::move(context));
}

static std::string describe_sockaddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(a.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(a.sin6_port));
  }
  if (ss.ss_family == AF_UNIX) {
    const auto& a = reinterpret_cast<const sockaddr_un&>(ss);
    return a.sun_path[0] ? fmt::format("unix:{}", a.sun_path) : std::string("unix socket");
  }
  return "socket";
}

std::string describe_fd(int fd) {
  if (fd < 0) return "no fd";
  int saved = errno;  // callers build an Error from errno after this
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) != 0) {
    out = fmt::format("fd {} (closed)", fd);
  } else if (S_ISSOCK(st.st_mode)) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      out = "peer " + describe_sockaddr(ss);
    else
      out = fmt::format("socket fd {} (not connected)", fd);
  } else if (S_ISFIFO(st.st_mode)) {
    out = fmt::format("pipe fd {}", fd);
  } else {
    char link[4096];
    std::string proc = fmt::format("/proc/self/fd/{}", fd);
    ssize_t n = ::readlink(proc.c_str(), link, sizeof link - 1);
    out = n > 0 ? fmt::format("file {}", std::string_view(link, static_cast<std::size_t>(n)))
                : fmt::format("file fd {}", fd);
  }
  errno = saved;
  return out;
}

}  // namespace zcnet

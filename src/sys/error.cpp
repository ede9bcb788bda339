#include "zcnet/sys/error.hpp"

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
  // glibc knows every name ("ECONNRESET"); elsewhere the number is still in message().
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  if (const char* name = ::strerrorname_np(code)) return name;
#endif
  return "E?";
}

std::string_view Error::errno_name() const noexcept {
  return zcnet::errno_name(code_);
}

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

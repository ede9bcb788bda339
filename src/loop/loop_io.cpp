// Loop awaitables and the helpers built from them (accept with EMFILE pause, dial, write_all),
// plus the socket and rlimit helpers. Portable POSIX.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "loop/backend.hpp"
#include "sys/faults.hpp"
#include "zcnet/loop/loop.hpp"

namespace zcnet {

std::string_view to_string(BackendKind k) noexcept {
  switch (k) {
    case BackendKind::Auto:
      return "auto";
    case BackendKind::Epoll:
      return "epoll";
    case BackendKind::Uring:
      return "uring";
    case BackendKind::Poll:
      return "poll";
  }
  return "?";
}

std::optional<BackendKind> parse_backend(std::string_view name) noexcept {
  if (name == "auto") return BackendKind::Auto;
  if (name == "epoll") return BackendKind::Epoll;
  if (name == "uring" || name == "io_uring") return BackendKind::Uring;
  if (name == "poll") return BackendKind::Poll;
  return std::nullopt;
}

ConnectAwaiter::ConnectAwaiter(Loop& loop, int fd, const sockaddr* addr, socklen_t len,
                               const IoOptions& o)
    : OpAwaiter<void>(loop, detail::OpCode::Connect, fd, o) {
  if (len > sizeof addr_) len = sizeof addr_;
  std::memcpy(&addr_, addr, len);
  op_.addr = &addr_;
  op_.addrlen = len;
}

OpAwaiter<void> Loop::readable(int fd, const IoOptions& o) {
  return wait(fd, Direction::Read, o);
}
OpAwaiter<void> Loop::writable(int fd, const IoOptions& o) {
  return wait(fd, Direction::Write, o);
}
OpAwaiter<void> Loop::wait(int fd, Direction dir, const IoOptions& o) {
  return OpAwaiter<void>(*this, detail::OpCode::Poll, fd, o, {}, dir);
}

OpAwaiter<UniqueFd> Loop::accept_once(int listen_fd, const IoOptions& o) {
  return OpAwaiter<UniqueFd>(*this, detail::OpCode::Accept, listen_fd, o);
}

ConnectAwaiter Loop::connect(int fd, const sockaddr* addr, socklen_t len, const IoOptions& o) {
  return ConnectAwaiter(*this, fd, addr, len, o);
}

OpAwaiter<std::size_t> Loop::read(int fd, std::span<std::byte> buf, const IoOptions& o) {
  return OpAwaiter<std::size_t>(*this, detail::OpCode::Read, fd, o, buf);
}

OpAwaiter<std::size_t> Loop::write(int fd, std::span<const std::byte> buf, const IoOptions& o) {
  return OpAwaiter<std::size_t>(*this, detail::OpCode::Write, fd, o, buf);
}

OpAwaiter<RecvBuffer> Loop::recv(int fd, const IoOptions& o) {
  return OpAwaiter<RecvBuffer>(*this, detail::OpCode::Recv, fd, o);
}

OpAwaiter<std::size_t> Loop::send_zc(int fd, std::span<const std::byte> buf, const IoOptions& o) {
  return OpAwaiter<std::size_t>(*this, detail::OpCode::SendZc, fd, o, buf);
}

SpliceAwaiter::SpliceAwaiter(Loop& loop, int in, int out, std::size_t len, const IoOptions& o)
    : OpAwaiter<std::size_t>(loop, detail::OpCode::Splice, in, o) {
  op_.fd_out = out;
  op_.len = len;
}

SpliceAwaiter Loop::splice(int in, int out, std::size_t len, const IoOptions& o) {
  return SpliceAwaiter(*this, in, out, len, o);
}

OpAwaiter<void> Loop::sleep_until(Clock::time_point when, CancelToken cancel) {
  return OpAwaiter<void>(*this, detail::OpCode::Sleep, -1, IoOptions{when, std::move(cancel)});
}
OpAwaiter<void> Loop::sleep_for(Clock::duration d, CancelToken cancel) {
  return sleep_until(Clock::now() + d, std::move(cancel));
}
OpAwaiter<void> Loop::yield() {
  return OpAwaiter<void>(*this, detail::OpCode::Yield, -1, {});
}

// A coroutine frame per call (one allocation per accepted connection, not per byte).
Task<Result<UniqueFd>> Loop::accept(int listen_fd, IoOptions o) {
  bool paused = false;
  for (;;) {
    auto r = co_await accept_once(listen_fd, o);
    if (r || (r.error().code() != EMFILE && r.error().code() != ENFILE)) {
      if (r && paused) std::fprintf(stderr, "zcnet: accept on fd %d resumed\n", listen_fd);
      co_return std::move(r);
    }
    if (!paused) {
      std::fprintf(stderr,
                   "zcnet: accept on fd %d: %s (%s); pausing accepts for %lld ms at a time, "
                   "existing connections keep running\n",
                   listen_fd, std::string(r.error().errno_name()).c_str(),
                   std::strerror(r.error().code()),
                   static_cast<long long>(options_.accept_pause.count()));
      paused = true;
    }
    auto wake = std::min(o.deadline, Clock::now() + options_.accept_pause);
    auto s = co_await sleep_until(wake, o.cancel);
    if (!s) co_return std::move(s).error();
    if (Clock::now() >= o.deadline)
      co_return Error(ETIMEDOUT, "accept", "fd " + std::to_string(listen_fd));
  }
}

Task<Result<UniqueFd>> Loop::dial(const sockaddr* addr, socklen_t len, IoOptions o) {
  if (int err = sys::faults::inject_fd(sys::faults::FdCall::Socket)) co_return Error(err, "socket");
  UniqueFd fd(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) co_return last_error("socket");
  forget(fd.get());  // a previous fd with this number may have been closed behind our back
  auto r = co_await connect(fd.get(), addr, len, o);
  if (!r) {
    close(std::move(fd));
    co_return std::move(r).error();
  }
  co_return std::move(fd);
}

Task<Result<void>> Loop::write_all(int fd, std::span<const std::byte> buf, IoOptions o) {
  while (!buf.empty()) {
    auto r = co_await write(fd, buf, o);
    if (!r) co_return std::move(r).error();
    buf = buf.subspan(*r);
  }
  co_return Result<void>{};
}

Task<Result<void>> Loop::read_exact(int fd, std::span<std::byte> buf, IoOptions o) {
  while (!buf.empty()) {
    auto r = co_await read(fd, buf, o);
    if (!r) co_return std::move(r).error();
    if (*r == 0) co_return Error(ENODATA, "read", "fd " + std::to_string(fd) + ": early EOF");
    buf = buf.subspan(*r);
  }
  co_return Result<void>{};
}

Result<std::uint64_t> raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return last_error("getrlimit");
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) != 0) return last_error("setrlimit", "RLIMIT_NOFILE");
    rl = want;
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

Result<UniqueFd> listen_tcp(std::string_view ip, std::uint16_t port, ListenOptions o) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string host(ip);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return Error(EINVAL, "listen", "not an IP address: " + host);
  }
  std::string where = host + ":" + std::to_string(port);
  int one = 1;
  if (o.reuse_port && o.sole_owner && port != 0) {
    // A socket without SO_REUSEPORT binds only where no other socket is (SO_REUSEADDR: not
    // stopped by connections lingering in TIME_WAIT). Closed again before the group binds.
    UniqueFd probe(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return last_error("socket");
    ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(probe.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      if (errno == EADDRINUSE)
        return Error(EADDRINUSE, "bind",
                     where +
                         ": another socket holds this port (only one server's workers may "
                         "share a port)");
      return last_error("bind", where);
    }
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return last_error("socket");
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (o.reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return last_error("setsockopt", "SO_REUSEPORT");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return last_error("bind", where);
  if (::listen(fd.get(), o.backlog) != 0) return last_error("listen", where);
  return fd;
}

Result<std::uint16_t> local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return last_error("getsockname");
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return Error(EAFNOSUPPORT, "getsockname");
}

}  // namespace zcnet

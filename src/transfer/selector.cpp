#include "zcnet/transfer/selector.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace zcnet {

bool peer_is_local(int socket_fd) noexcept {
  sockaddr_storage peer{}, self{};
  socklen_t plen = sizeof peer, slen = sizeof self;
  if (::getpeername(socket_fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) return false;
  if (peer.ss_family == AF_UNIX) return true;
  if (peer.ss_family == AF_INET) {
    const auto& p = reinterpret_cast<const sockaddr_in&>(peer);
    if ((ntohl(p.sin_addr.s_addr) >> 24) == 127) return true;
  } else if (peer.ss_family == AF_INET6) {
    const auto& p = reinterpret_cast<const sockaddr_in6&>(peer);
    if (IN6_IS_ADDR_LOOPBACK(&p.sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&p.sin6_addr) && p.sin6_addr.s6_addr[12] == 127) return true;
  } else {
    return false;
  }
  // A peer at one of our own addresses (not loopback) is still this machine.
  if (::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&self), &slen) != 0) return false;
  if (peer.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(peer).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(self).sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6&>(self).sin6_addr, sizeof(in6_addr)) == 0;
}

namespace {

// The reasons are static text: a choice is made per transfer and must not allocate.
Choice file_to_socket_policy(const Capabilities& caps, const Profile& prof, bool peer_local,
                             bool nonblocking, std::optional<std::uint64_t> size) {
  const std::uint64_t n = size.value_or(0);
  // The peer's location decides: a local receiver pays its copy either way, so what matters is
  // which sender path keeps it fed; a remote one gains from pages sent straight from the cache.
  if (peer_local) {
    if (n > prof.local_sendfile_max_bytes && n <= prof.local_mapped_max_bytes)
      return {StrategyKind::Mmap, "file->local socket: one copy from the cached whole-file mapping",
              size};
    if (n >= prof.local_mmap_min_bytes) {
      // Measured (docs/performance.md, "File -> loopback socket, by size"): on a nonblocking socket
      // stepped by a loop, sendfile's median beat mmap's for large files (1.28x over 6 alternating
      // runs) at less CPU; one blocking sendfile call over the whole file lost to mmap (0.72x).
      if (caps.sendfile && nonblocking)
        return {StrategyKind::Sendfile,
                "file->local nonblocking socket: at or above the large-file threshold", size};
      return {StrategyKind::Mmap, "file->local socket: at or above the mmap threshold", size};
    }
    if (caps.sendfile && n >= prof.local_sendfile_min_bytes && n <= prof.local_sendfile_max_bytes)
      return {StrategyKind::Sendfile, "file->local socket: inside the sendfile window", size};
    return {StrategyKind::ReadWrite,
            "file->local socket: outside the sendfile window, below the mmap threshold", size};
  }
  if (!caps.sendfile)
    return {StrategyKind::ReadWrite, "file->remote socket: sendfile unavailable", size};
  if (n >= prof.remote_sendfile_min_bytes)
    return {StrategyKind::Sendfile, "file->remote socket: at or above the sendfile threshold",
            size};
  return {StrategyKind::ReadWrite, "file->remote socket: below the sendfile threshold", size};
}

// Server mode: a body for a local peer that the general policy would copy (read-write, or mmap
// from the cached mapping) goes by sendfile above the sendfile window up to the server's bound.
Choice server_file_to_socket_policy(const Capabilities& caps, const Profile& prof, bool peer_local,
                                    bool nonblocking, std::optional<std::uint64_t> size) {
  Choice c = file_to_socket_policy(caps, prof, peer_local, nonblocking, size);
  const std::uint64_t n = size.value_or(0);
  const bool copies = c.strategy == StrategyKind::ReadWrite || c.strategy == StrategyKind::Mmap;
  if (copies && peer_local && caps.sendfile && n > prof.local_sendfile_max_bytes &&
      n <= prof.server_local_sendfile_max_bytes)
    return {StrategyKind::Sendfile,
            "server mode: file->local socket above the sendfile window, within the server's "
            "sendfile bound: sendfile instead of a copy",
            size};
  return c;
}

Choice splice_or_copy(const Capabilities& caps, std::optional<std::uint64_t> size) {
  if (caps.splice) return {StrategyKind::Splice, "splice through a pipe, no user-space copy", size};
  return {StrategyKind::ReadWrite, "splice unavailable", size};
}

}  // namespace

Choice Selector::choose(const Source& src, const Sink& dst, std::optional<std::uint64_t> size,
                        StrategyKind forced) const {
  if (forced != StrategyKind::Auto) return {forced, "forced by the caller", size};
  const EndpointKind from = kind_of(src), to = kind_of(dst);
  const Capabilities& caps = *caps_;

  if (from == EndpointKind::Memory) {
    std::uint64_t n = size.value_or(0);
    if (to == EndpointKind::Socket && caps.msg_zerocopy && n >= profile_.zerocopy_min_bytes &&
        !peer_is_local(fd_of(dst)))
      return {StrategyKind::MsgZerocopy,
              "memory->remote socket: at or above the zero-copy threshold", size};
    return {StrategyKind::ReadWrite,
            to == EndpointKind::Socket
                ? "memory->socket: local peer or small write; MSG_ZEROCOPY would copy anyway"
                : "memory source: one write, no extra copy",
            size};
  }
  if (from == EndpointKind::File) {
    if (to == EndpointKind::Socket) {
      // One getpeername (and one fcntl for large files) per transfer buys the peer's location.
      const int sock = fd_of(dst);
      const bool local = peer_is_local(sock);
      bool nonblocking = false;
      if (local && size.value_or(0) >= profile_.local_mmap_min_bytes &&
          size.value_or(0) > profile_.local_mapped_max_bytes) {
        const int flags = ::fcntl(sock, F_GETFL);
        nonblocking = flags >= 0 && (flags & O_NONBLOCK);
      }
      return file_to_socket_policy(caps, profile_, local, nonblocking, size);
    }
    if (to == EndpointKind::File && caps.sendfile)
      return {StrategyKind::Sendfile, "file->file: copied inside the kernel", size};
    if (to == EndpointKind::Pipe) return splice_or_copy(caps, size);
    return {StrategyKind::ReadWrite, "file->file: sendfile unavailable", size};
  }
  // Socket or pipe source: splice moves page references through a pipe.
  return splice_or_copy(caps, size);
}

Choice Selector::choose_file_to_socket(std::optional<std::uint64_t> size, bool peer_local,
                                       bool nonblocking, SelectorMode mode) const {
  if (mode == SelectorMode::Server)
    return server_file_to_socket_policy(*caps_, profile_, peer_local, nonblocking, size);
  return file_to_socket_policy(*caps_, profile_, peer_local, nonblocking, size);
}

std::string Choice::describe() const {
  std::string out;
  if (fell_back_from)
    out = fmt::format("fallback from {} ({}): ", to_string(*fell_back_from),
                      errno_name(fallback_errno));
  out += reason;
  if (size) out += fmt::format(" ({} B)", *size);
  return out;
}

std::optional<StrategyKind> Selector::fallback(StrategyKind failed, const Source& src,
                                               const Sink& dst, int error) const {
  const bool needs_pool_buffer =
      failed == StrategyKind::ReadWrite || failed == StrategyKind::MsgZerocopy ||
      failed == StrategyKind::UringSend || failed == StrategyKind::UringSendZc;
  if (error == ENOBUFS && needs_pool_buffer) {
    // Every pool buffer is in use (many transfers at once): the chain below would only find the
    // pool empty again, so move to a strategy that copies nothing through user space.
    if (kind_of(src) != EndpointKind::File || kind_of(dst) != EndpointKind::Socket)
      return std::nullopt;
    if (allows(*caps_, StrategyKind::Sendfile)) return StrategyKind::Sendfile;
    if (allows(*caps_, StrategyKind::Splice)) return StrategyKind::Splice;
    return std::nullopt;
  }
  switch (failed) {
    case StrategyKind::ReadWrite:
    case StrategyKind::Tee:  // no other strategy feeds a mirror: failing is the honest answer
    case StrategyKind::Auto:
      return std::nullopt;
    case StrategyKind::UringSendZc:
      if (allows(*caps_, StrategyKind::UringSend)) return StrategyKind::UringSend;
      break;
    case StrategyKind::UringSplice:
      if (allows(*caps_, StrategyKind::Splice)) return StrategyKind::Splice;
      break;
    case StrategyKind::Sendfile:
      // sendfile refuses some pairs (e.g. file->file on old kernels); splice covers file->socket.
      if (kind_of(src) == EndpointKind::File && kind_of(dst) != EndpointKind::File &&
          allows(*caps_, StrategyKind::Splice))
        return StrategyKind::Splice;
      break;
    default:
      break;
  }
  return StrategyKind::ReadWrite;
}

}  // namespace zcnet

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "commands.hpp"

namespace zcnet::cli {

namespace {

struct HostPort {
  std::string host, port;
};

Result<HostPort> split(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size())
    return Error(EINVAL, "parse address", "'" + s + "' is not HOST:PORT");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return HostPort{host, s.substr(colon + 1)};
}

Result<addrinfo*> resolve(const std::string& host_port, bool passive) {
  auto hp = split(host_port);
  if (!hp) return std::move(hp).error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  int rc =
      ::getaddrinfo(hp->host.empty() ? nullptr : hp->host.c_str(), hp->port.c_str(), &hints, &res);
  if (rc != 0) return Error(EINVAL, "getaddrinfo", host_port + ": " + ::gai_strerror(rc));
  return res;
}

}  // namespace

Result<UniqueFd> listen_on(const std::string& host_port, int backlog) {
  auto res = resolve(host_port, true);
  if (!res) return std::move(res).error();
  Error last(EADDRNOTAVAIL, "listen", host_port);
  for (addrinfo* a = *res; a; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) continue;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd.get(), backlog) == 0) {
      ::freeaddrinfo(*res);
      return fd;
    }
    last = last_error("bind/listen", host_port);
  }
  ::freeaddrinfo(*res);
  return last;
}

Task<Result<UniqueFd>> dial_any(Loop& loop, const std::vector<Address>& peers,
                                const std::string& name, IoOptions io) {
  std::optional<Error> last;
  for (const Address& a : peers) {
    auto fd = co_await loop.dial(reinterpret_cast<const sockaddr*>(&a.addr), a.len, io);
    if (fd) co_return std::move(*fd);
    last = Error(fd.error().code(), "connect", name);
  }
  co_return last ? std::move(*last) : Error(EADDRNOTAVAIL, "connect", name);
}

std::pair<std::string, std::uint16_t> split_listen(const std::string& s, std::string_view flag) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error(fmt::format("{} wants ADDR:PORT", flag));
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  int port = std::stoi(s.substr(colon + 1));
  if (port < 0 || port > 65535)
    throw std::runtime_error(fmt::format("{}: port out of range", flag));
  return {host, static_cast<std::uint16_t>(port)};
}

Result<InputFile> open_input(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return last_error("open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return last_error("fstat", path);
  return InputFile{std::move(fd), static_cast<std::uint64_t>(st.st_size)};
}

Result<std::vector<Address>> resolve(const std::string& host_port) {
  auto res = resolve(host_port, false);
  if (!res) return std::move(res).error();
  std::vector<Address> out;
  for (addrinfo* a = *res; a; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address addr;
    std::memcpy(&addr.addr, a->ai_addr, a->ai_addrlen);
    addr.len = a->ai_addrlen;
    out.push_back(addr);
  }
  ::freeaddrinfo(*res);
  if (out.empty()) return Error(EADDRNOTAVAIL, "getaddrinfo", host_port);
  return out;
}

}  // namespace zcnet::cli

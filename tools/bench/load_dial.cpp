// `zcnet load` connecting: from source addresses given by --source, round-robin, so that many
// connections to one server port do not run out of local ports (each source address has its own
// ephemeral port range), and every attempt counted by how it ended.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <stdexcept>

#include "bench/load_run.hpp"

namespace zcnet::cli {

namespace {

constexpr std::uint64_t kMaxSources = 1u << 16;

std::uint32_t parse_ipv4(std::string_view text) {
  const std::string s(text);
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1)
    throw std::runtime_error(fmt::format("--source: '{}' is not an IPv4 address", s));
  const std::uint32_t host = ntohl(a.s_addr);
  if ((host >> 24) != 127)
    throw std::runtime_error(
        fmt::format("--source: {} is not a loopback address (127.0.0.0/8)", s));
  return host;
}

std::string to_text(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  return buf;
}

// A nonblocking socket bound to `source` (port chosen at connect time), connected to `peer`.
Task<Result<UniqueFd>> dial_from(Loop& loop, const Address& peer, const sockaddr_in* source,
                                 const std::string& name, IoOptions io) {
  const auto* to = reinterpret_cast<const sockaddr*>(&peer.addr);
  UniqueFd fd(::socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) co_return last_error("socket", name);
  loop.forget(fd.get());  // a previous fd with this number may have been closed behind our back
  if (source) {
    // Without IP_BIND_ADDRESS_NO_PORT, bind() picks the port before the peer is known, and so
    // can use each port once per source address instead of once per source and peer.
    const int one = 1;
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0)
      co_return last_error("setsockopt", "IP_BIND_ADDRESS_NO_PORT");
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(source), sizeof *source) != 0)
      co_return last_error("bind", "source " + to_text(*source));
  }
  auto r = co_await loop.connect(fd.get(), to, peer.len, io);
  if (!r) {
    loop.close(std::move(fd));
    co_return Error(r.error().code(), "connect",
                    source ? fmt::format("{} from {}", name, to_text(*source)) : name);
  }
  co_return std::move(fd);
}

}  // namespace

std::vector<sockaddr_in> parse_sources(std::string_view text) {
  std::vector<sockaddr_in> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    const std::size_t dash = item.find('-');
    const std::uint32_t first = parse_ipv4(item.substr(0, dash));
    const std::uint32_t last =
        dash == std::string_view::npos ? first : parse_ipv4(item.substr(dash + 1));
    if (last < first)
      throw std::runtime_error(fmt::format("--source: range '{}' ends before it starts", item));
    if (out.size() + (last - first + 1) > kMaxSources)
      throw std::runtime_error(fmt::format("--source: more than {} addresses", kMaxSources));
    for (std::uint64_t a = first; a <= last; ++a) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(a));
      out.push_back(sin);
    }
  }
  if (out.empty()) throw std::runtime_error("--source: no address given");
  return out;
}

Task<Result<UniqueFd>> open_connection(LoadState& s, IoOptions io) {
  const sockaddr_in* source =
      s.sources.empty() ? nullptr : &s.sources[s.next_source++ % s.sources.size()];
  ++s.connects.attempted;
  const auto t0 = Clock::now();
  std::optional<Error> last;
  for (const Address& peer : s.peers) {
    if (source && peer.addr.ss_family != AF_INET) continue;  // an IPv4 source reaches IPv4 only
    auto fd = co_await dial_from(s.loop, peer, source, s.args.connect, io);
    if (fd) {
      ++s.connects.established;
      s.connects.latency.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
      co_return std::move(*fd);
    }
    last = std::move(fd).error();
  }
  if (!last)
    last = Error(EAFNOSUPPORT, "connect",
                 s.args.connect +
                     ": no IPv4 address to reach "
                     "from an IPv4 --source");
  ++s.connects.failed;
  ++s.connects.failures[std::string(last->errno_name())];
  if (s.connects.first_failure.empty()) s.connects.first_failure = last->message();
  co_return std::move(*last);
}

}  // namespace zcnet::cli

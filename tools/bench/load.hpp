// `zcnet load`, the load generator `zcnet bench` spawns (and the Python benchmarks use): N
// persistent loopback connections, each repeating one request/response exchange.
//
// Protocol (stable; bench_server.cpp answers it): on a persistent TCP connection the client
// sends an 8-byte little-endian unsigned length N, the server replies with exactly N bytes, repeat.
// The client closes when done.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "sizes.hpp"

namespace zcnet::cli {

// The load generator's loop: epoll (cheapest per readiness event for many small requests), or
// poll in the portable build, which has no epoll.
#ifdef ZCNET_PORTABLE
inline constexpr const char* kDefaultLoadBackend = "poll";
inline constexpr const char* kDefaultBenchBackends = "poll";
#else
inline constexpr const char* kDefaultLoadBackend = "epoll";
inline constexpr const char* kDefaultBenchBackends = "epoll,uring";
#endif

inline constexpr std::size_t kLoadRequestBytes = 8;

inline std::array<std::byte, kLoadRequestBytes> encode_load_request(std::uint64_t n) noexcept {
  std::array<std::byte, kLoadRequestBytes> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte((n >> (8 * i)) & 0xff);
  return out;
}
inline std::uint64_t decode_load_request(const std::array<std::byte, kLoadRequestBytes>& b) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < b.size(); ++i) n |= std::uint64_t(b[i]) << (8 * i);
  return n;
}

// The addresses HOST:PORT resolves to, refusing any that is not loopback (127.0.0.0/8, ::1,
// ::ffff:127.0.0.0/104): the load generator and the benchmark only ever talk to this machine.
Result<std::vector<Address>> resolve_loopback(const std::string& host_port);

// RLIMIT_NOFILE raised to its hard limit; an error that says how many descriptors `connections`
// needs and what the limit allows when it is not enough. `per_connection` fds per connection,
// plus `reserve` for everything else.
Result<std::uint64_t> ensure_fds_for(std::uint64_t connections, std::uint64_t per_connection,
                                     std::uint64_t reserve, const char* who);

}  // namespace zcnet::cli

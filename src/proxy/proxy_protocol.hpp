// The PROXY protocol header (haproxy.org, proxy-protocol.txt) that tells an upstream who the
// client is: version 1 is a text line, version 2 a binary block. Source: the client's address;
// destination: the address the client connected to.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <span>

#include "zcnet/proxy/proxy.hpp"

namespace zcnet::proxy {

// Longest header either version writes here (v2 with IPv6 addresses: 16 + 36 bytes; v1: 107).
inline constexpr std::size_t kProxyHeaderMax = 108;

// Writes the header into `out` and returns its length. Addresses that are neither IPv4 nor IPv6
// (or of two families) give "PROXY UNKNOWN\r\n" (v1) or an AF_UNSPEC block (v2), as the spec asks.
std::size_t write_proxy_header(ProxyHeader version, const sockaddr_storage& source,
                               const sockaddr_storage& destination,
                               std::span<char, kProxyHeaderMax> out) noexcept;

}  // namespace zcnet::proxy

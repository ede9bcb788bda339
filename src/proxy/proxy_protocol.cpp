#include "proxy/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>

namespace zcnet::proxy {

namespace {

constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::uint16_t port_of(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
}

const void* ip_of(const sockaddr_storage& ss) noexcept {
  if (ss.ss_family == AF_INET) return &reinterpret_cast<const sockaddr_in&>(ss).sin_addr;
  return &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
}

bool same_ip_family(const sockaddr_storage& a, const sockaddr_storage& b) noexcept {
  return a.ss_family == b.ss_family && (a.ss_family == AF_INET || a.ss_family == AF_INET6);
}

std::size_t write_v1(const sockaddr_storage& src, const sockaddr_storage& dst, char* out) noexcept {
  if (!same_ip_family(src, dst)) {
    static constexpr char unknown[] = "PROXY UNKNOWN\r\n";
    std::memcpy(out, unknown, sizeof unknown - 1);
    return sizeof unknown - 1;
  }
  char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
  const int family = src.ss_family;
  ::inet_ntop(family, ip_of(src), s, sizeof s);
  ::inet_ntop(family, ip_of(dst), d, sizeof d);
  const int n =
      std::snprintf(out, kProxyHeaderMax, "PROXY %s %s %s %u %u\r\n",
                    family == AF_INET ? "TCP4" : "TCP6", s, d, port_of(src), port_of(dst));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t write_v2(const sockaddr_storage& src, const sockaddr_storage& dst,
                     unsigned char* out) noexcept {
  std::memcpy(out, kV2Signature, sizeof kV2Signature);
  out[12] = 0x21;  // version 2, command PROXY
  std::size_t len = 0;
  unsigned char* body = out + 16;
  if (same_ip_family(src, dst)) {
    const bool v4 = src.ss_family == AF_INET;
    out[13] = v4 ? 0x11 : 0x21;  // TCP over IPv4 / IPv6
    const std::size_t ip = v4 ? 4 : 16;
    std::memcpy(body, ip_of(src), ip);
    std::memcpy(body + ip, ip_of(dst), ip);
    const std::uint16_t sp = htons(port_of(src)), dp = htons(port_of(dst));
    std::memcpy(body + 2 * ip, &sp, 2);
    std::memcpy(body + 2 * ip + 2, &dp, 2);
    len = 2 * ip + 4;
  } else {
    out[13] = 0x00;  // AF_UNSPEC: the receiver uses the connection's own addresses
  }
  out[14] = static_cast<unsigned char>(len >> 8);
  out[15] = static_cast<unsigned char>(len & 0xff);
  return 16 + len;
}

}  // namespace

std::size_t write_proxy_header(ProxyHeader version, const sockaddr_storage& source,
                               const sockaddr_storage& destination,
                               std::span<char, kProxyHeaderMax> out) noexcept {
  switch (version) {
    case ProxyHeader::None:
      return 0;
    case ProxyHeader::V1:
      return write_v1(source, destination, out.data());
    case ProxyHeader::V2:
      return write_v2(source, destination, reinterpret_cast<unsigned char*>(out.data()));
  }
  return 0;
}

}  // namespace zcnet::proxy

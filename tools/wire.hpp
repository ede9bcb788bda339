// The hello `zcnet send` puts in front of each connection's bytes, so one `zcnet recv --out` can
// take a file split over N parallel connections and write each piece where it belongs.
//
//   offset  size  field
//        0     6  magic   "ZCNET\x01"
//        6     2  version 1, little-endian
//        8     8  offset  where this connection's payload starts in the whole (little-endian)
//       16     8  length  payload bytes that follow (little-endian)
//       24        payload: exactly `length` bytes, then the sender half-closes (FIN)
//
// A stream that does not start with the magic (`nc host port < file`) is raw: it is written
// from offset 0 until EOF, as before the hello existed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace zcnet::cli::wire {

inline constexpr std::array<std::byte, 6> kMagic{std::byte{'Z'}, std::byte{'C'}, std::byte{'N'},
                                                 std::byte{'E'}, std::byte{'T'}, std::byte{1}};
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHelloSize = 24;

struct Hello {
  std::uint16_t version = kVersion;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

using HelloBytes = std::array<std::byte, kHelloSize>;

namespace detail {
inline void put_le(std::byte* p, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline std::uint64_t get_le(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
}  // namespace detail

inline HelloBytes encode(const Hello& h) noexcept {
  HelloBytes b{};
  std::memcpy(b.data(), kMagic.data(), kMagic.size());
  detail::put_le(b.data() + 6, h.version, 2);
  detail::put_le(b.data() + 8, h.offset, 8);
  detail::put_le(b.data() + 16, h.length, 8);
  return b;
}

// True if `head` (the first bytes of a stream, possibly fewer than the magic) still agrees with
// the magic: more bytes are needed to decide.
inline bool may_be_hello(std::span<const std::byte> head) noexcept {
  const std::size_t n = head.size() < kMagic.size() ? head.size() : kMagic.size();
  return std::memcmp(head.data(), kMagic.data(), n) == 0;
}

// The hello in `head`, or nullopt if `head` is not a whole hello (kHelloSize bytes with the magic).
// The version is returned as sent; the caller rejects versions it does not know.
inline std::optional<Hello> decode(std::span<const std::byte> head) noexcept {
  if (head.size() < kHelloSize || !may_be_hello(head)) return std::nullopt;
  Hello h;
  h.version = static_cast<std::uint16_t>(detail::get_le(head.data() + 6, 2));
  h.offset = detail::get_le(head.data() + 8, 8);
  h.length = detail::get_le(head.data() + 16, 8);
  return h;
}

}  // namespace zcnet::cli::wire

// Endpoints: the sources and sinks a transfer moves bytes between.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

namespace zcnet {

// A byte range of a file. As a source: `length` bytes from `offset` (nullopt = to the end of the
// file as fstat sees it when the transfer starts). As a sink: bytes are written at `offset`
// onwards (pwrite semantics; the fd's position is not used) and `length` is ignored.
struct FileRange {
  int fd = -1;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
};

// A connected stream socket (TCP or Unix), blocking or nonblocking.
struct Socket {
  int fd = -1;
};

// One end of a pipe: the read end as a source, the write end as a sink.
struct Pipe {
  int fd = -1;
};

// Bytes in memory (a pool buffer or any span). The caller keeps them alive and unchanged until the
// transfer is done; a zero-copy transfer is done only when the kernel has released every page.
struct Memory {
  std::span<const std::byte> bytes;
};

using Source = std::variant<FileRange, Socket, Pipe, Memory>;
using Sink = std::variant<FileRange, Socket, Pipe>;

enum class EndpointKind : std::uint8_t { File, Socket, Pipe, Memory };

inline EndpointKind kind_of(const Source& s) noexcept {
  return static_cast<EndpointKind>(s.index());
}
inline EndpointKind kind_of(const Sink& s) noexcept {
  return static_cast<EndpointKind>(s.index());
}
inline int fd_of(const Source& s) noexcept {
  return std::visit(
      [](const auto& e) {
        if constexpr (requires { e.fd; })
          return e.fd;
        else
          return -1;
      },
      s);
}
inline int fd_of(const Sink& s) noexcept {
  return std::visit([](const auto& e) { return e.fd; }, s);
}

const char* to_string(EndpointKind k) noexcept;

}  // namespace zcnet

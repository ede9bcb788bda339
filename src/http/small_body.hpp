// Small bodies leave with their head in one sendmsg: the body is read with one pread into a
// pooled buffer (what nginx does with sendfile off), so a small response costs two syscalls and
// needs no corking, where head-then-body costs three or more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/error.hpp"

namespace zcnet::http {

// Bodies up to this size take the single-write path (one pool buffer; below the loopback
// sendfile window, so the selector would have picked read-write for them anyway).
inline constexpr std::uint64_t kSmallBodyMax = 32 * 1024;

struct SmallBody {
  PoolBuffer buffer;  // empty when the body was read into memory the caller holds
  std::span<const std::byte> data;
  std::span<const std::byte> bytes() const noexcept { return data; }
};

// Reads `length` bytes at `offset` of `fd` into a buffer from `pool`. ENODATA when the file ends
// before them (it shrank after its size was taken): nothing may be sent from such a read.
Result<SmallBody> read_small_body(BufferPool& pool, int fd, std::uint64_t offset,
                                  std::size_t length);
// The same into `into` (all of it), memory the caller keeps until the body is sent.
Result<SmallBody> read_small_body(std::span<std::byte> into, int fd, std::uint64_t offset);

// One nonblocking sendmsg of `head` then `body`. Returns the bytes the socket took (0 when it
// would block); the caller sends what is left by waiting.
Result<std::size_t> send_head_and_body(int sock, std::span<const std::byte> head,
                                       std::span<const std::byte> body);

// A file body by sendfile with its head corked in front (MSG_MORE), sent now: a response the
// socket takes at once needs no Transfer. Stops at the first EAGAIN; the caller sends the rest
// (the head's rest, then the body from offset + body) as a Transfer.
struct SentNow {
  std::uint64_t head = 0;      // head bytes the socket took
  std::uint64_t body = 0;      // body bytes the socket took
  std::optional<Error> error;  // ENODATA: the file ended before `length` (it shrank)
  bool finished(std::size_t head_bytes, std::uint64_t length) const noexcept {
    return !error && head == head_bytes && body == length;
  }
};
// When sendfile cannot serve this pair of fds (EINVAL, ENOSYS, EOPNOTSUPP, EXDEV before any body
// byte), and on platforms without sendfile, it stops without an error and the caller's transfer
// falls back to another strategy.
SentNow send_file_now(int sock, std::span<const std::byte> head, int fd, std::uint64_t offset,
                      std::uint64_t length);

}  // namespace zcnet::http

// Private: hands out a File or Memory source chunk by chunk for the send-based strategies
// (msg-zerocopy, uring-send, uring-send-zc). Memory chunks are views of the caller's bytes (no
// copy); File chunks are pread into pool buffers (counted in stats->bytes_copied_user).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::detail {

class ChunkReader {
 public:
  struct Chunk {
    PoolBuffer buffer;                 // File source: owns the bytes; Memory source: empty
    std::span<const std::byte> bytes;  // what to send
  };

  // `src` must be a FileRange or Memory; `limit` comes from resolve_limit() (nullopt: until pread
  // returns 0). `dst` is kept for error contexts only.
  ChunkReader(const Source& src, const Sink& dst, const StrategyContext& ctx,
              std::optional<std::uint64_t> limit, Stats* stats);

  bool is_file() const noexcept { return file_fd_ >= 0; }
  // Every byte handed out (or, for an unbounded file, pread returned 0).
  bool exhausted() const noexcept { return exhausted_; }
  std::uint64_t handed_out() const noexcept { return pos_; }

  // The next chunk of at most ctx.chunk_bytes. Errors: ENOBUFS (pool exhausted: nothing was
  // consumed, retry after buffers come back), ENODATA (the file ended before the limit: truncated),
  // or the pread's errno. An empty chunk means the source just ended (unbounded file only).
  Result<Chunk> next();

  // "file /tmp/x -> peer 127.0.0.1:9000", for error contexts (error paths only: syscalls).
  std::string route() const;

 private:
  Source src_;
  Sink dst_;
  Stats* stats_;
  BufferPool* pool_;
  std::size_t chunk_bytes_;
  int file_fd_ = -1;
  std::uint64_t file_offset_ = 0;
  std::span<const std::byte> memory_;
  std::optional<std::uint64_t> limit_;
  std::uint64_t pos_ = 0;
  bool exhausted_ = false;
};

}  // namespace zcnet::detail

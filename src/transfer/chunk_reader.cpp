#include "transfer/chunk_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "transfer/progress.hpp"

namespace zcnet::detail {

ChunkReader::ChunkReader(const Source& src, const Sink& dst, const StrategyContext& ctx,
                         std::optional<std::uint64_t> limit, Stats* stats)
    : src_(src),
      dst_(dst),
      stats_(stats),
      pool_(ctx.buffers),
      chunk_bytes_(std::max<std::size_t>(ctx.chunk_bytes, 1)),
      limit_(limit) {
  if (const auto* f = std::get_if<FileRange>(&src)) {
    file_fd_ = f->fd;
    file_offset_ = f->offset;
  } else if (const auto* m = std::get_if<Memory>(&src)) {
    memory_ = m->bytes;
    limit_ = std::min<std::uint64_t>(limit_.value_or(memory_.size()), memory_.size());
  }
  exhausted_ = limit_ && *limit_ == 0;
}

Result<ChunkReader::Chunk> ChunkReader::next() {
  std::uint64_t want = chunk_bytes_;
  if (limit_) want = std::min(want, *limit_ - pos_);
  Chunk chunk;
  if (!is_file()) {
    chunk.bytes = memory_.subspan(static_cast<std::size_t>(pos_), static_cast<std::size_t>(want));
  } else {
    auto buf = pool_->acquire(static_cast<std::size_t>(want));
    if (!buf) return std::move(buf).error();
    chunk.buffer = std::move(*buf);
    want = std::min<std::uint64_t>(want, chunk.buffer.capacity());
    std::uint64_t got = 0;
    // A short pread is not EOF; loop until the chunk is full or pread returns 0.
    while (got < want) {
      ++stats_->syscalls;
      ssize_t r = ::pread(file_fd_, chunk.buffer.data() + got, static_cast<std::size_t>(want - got),
                          static_cast<off_t>(file_offset_ + pos_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return last_error("pread", route());
      if (r == 0) break;
      got += static_cast<std::uint64_t>(r);
    }
    if (got < want && limit_) return source_ended("pread", src_, dst_, pos_ + got, *limit_);
    if (got < want) exhausted_ = true;  // unbounded file: EOF
    stats_->bytes_copied_user += got;
    chunk.bytes = std::span<const std::byte>(chunk.buffer.data(), static_cast<std::size_t>(got));
  }
  pos_ += chunk.bytes.size();
  if (limit_ && pos_ == *limit_) exhausted_ = true;
  return chunk;
}

std::string ChunkReader::route() const {
  return describe_pair(src_, dst_);
}

}  // namespace zcnet::detail

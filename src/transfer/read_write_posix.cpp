// read-write: the portable baseline for every source/sink pair. Bytes from a file, socket or pipe
// pass through one pool buffer (counted in Stats::bytes_copied_user); memory is written as is.
#include <algorithm>
#include <optional>

#include "sys/rw_posix.hpp"
#include "sys/sigpipe_posix.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/buffer_pool.hpp"

namespace zcnet::detail {

namespace {

class ReadWriteStrategy final : public Strategy {
 public:
  ReadWriteStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                    std::optional<std::uint64_t> limit)
      : src_(src),
        dst_(dst),
        pool_(ctx.buffers),
        chunk_(std::max<std::size_t>(ctx.chunk_bytes, 1)),
        stats_(stats_or(ctx, own_stats_)) {
    progress_.limit = limit;
  }

  StrategyKind kind() const noexcept override { return StrategyKind::ReadWrite; }
  Outcome step(std::uint64_t budget) override;

 private:
  bool from_memory() const noexcept { return kind_of(src_) == EndpointKind::Memory; }
  std::size_t pending() const noexcept { return tail_ - head_; }
  // The next bytes to write: the unwritten part of the pool buffer, or of the memory source.
  std::pair<const std::byte*, std::size_t> next_output(std::uint64_t budget_left) const noexcept;
  bool source_finished() const noexcept;
  sys::IoResult read_source(std::byte* buf, std::size_t len) noexcept;
  const char* read_op() const noexcept;
  void delivered(std::size_t n, Outcome& out) noexcept;

  Source src_;
  Sink dst_;
  BufferPool* pool_;
  std::size_t chunk_;
  Stats own_stats_;
  Stats* stats_;
  Progress progress_;
  PoolBuffer buf_;        // held only while it carries bytes: an idle transfer holds no buffer
  std::size_t head_ = 0;  // buf_[head_, tail_) was read and is not yet written
  std::size_t tail_ = 0;
  bool eof_ = false;
};

std::pair<const std::byte*, std::size_t> ReadWriteStrategy::next_output(
    std::uint64_t budget_left) const noexcept {
  if (!from_memory()) return {buf_.data() + head_, pending()};
  const auto bytes = std::get<Memory>(src_).bytes;
  const std::uint64_t end =
      std::min<std::uint64_t>(progress_.limit.value_or(bytes.size()), bytes.size());
  const std::uint64_t n = std::min(end - progress_.delivered, budget_left);
  return {bytes.data() + progress_.delivered, static_cast<std::size_t>(n)};
}

bool ReadWriteStrategy::source_finished() const noexcept {
  if (from_memory())
    return progress_.delivered >= std::min<std::uint64_t>(progress_.limit.value_or(0),
                                                          std::get<Memory>(src_).bytes.size());
  return eof_ || progress_.all_consumed();
}

const char* ReadWriteStrategy::read_op() const noexcept {
  return kind_of(src_) == EndpointKind::File ? "pread" : "read";
}

sys::IoResult ReadWriteStrategy::read_source(std::byte* buf, std::size_t len) noexcept {
  ++stats_->syscalls;
  if (const auto* f = std::get_if<FileRange>(&src_))
    return sys::pread(f->fd, buf, len, f->offset + progress_.consumed);
  return sys::read(fd_of(src_), buf, len);
}

void ReadWriteStrategy::delivered(std::size_t n, Outcome& out) noexcept {
  out.bytes += n;
  stats_->bytes += n;
  progress_.delivered += n;
  if (from_memory()) {
    progress_.consumed += n;
  } else {
    stats_->bytes_copied_user += n;
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
}

Outcome ReadWriteStrategy::step(std::uint64_t budget) {
  Outcome out;
  // Only a pipe sink can raise SIGPIPE here: sockets are written with MSG_NOSIGNAL.
  std::optional<sys::SigpipeBlock> no_sigpipe;
  if (kind_of(dst_) == EndpointKind::Pipe) no_sigpipe.emplace();

  for (;;) {
    if (pending() == 0 && source_finished()) {
      buf_ = PoolBuffer{};
      const std::uint64_t got = from_memory() ? progress_.delivered : progress_.consumed;
      if (progress_.limit && got < *progress_.limit) {
        out.error = source_ended(read_op(), src_, dst_, got, *progress_.limit);
        return out;
      }
      out.done = true;
      return out;
    }
    if (out.bytes >= budget) return out;
    // Invariant: bytes already read are written before anything more is read, so a read always
    // goes into an empty buffer and nothing read is ever dropped (an EAGAIN keeps them here).
    auto [data, len] = next_output(budget - out.bytes);
    if (len > 0) {
      sys::IoResult w = write_sink(dst_, progress_.delivered, data, len, *stats_);
      if (w.would_block()) {
        out.wait = Wait{fd_of(dst_), Direction::Write};
        return out;
      }
      if (!w.ok() || w.n == 0) {
        out.error = Error(w.ok() ? EIO : w.err, write_sink_op(dst_), describe_pair(src_, dst_));
        return out;
      }
      delivered(w.n, out);
      continue;
    }
    if (!buf_) {
      if (!pool_) {
        out.error = Error(EINVAL, "read-write", "no buffer pool in the strategy context");
        return out;
      }
      auto acquired = pool_->acquire(chunk_);
      if (!acquired) {
        // Before the first byte, a transfer may move to a strategy that needs no buffer.
        out.handled = progress_.consumed > 0 || out.bytes > 0;
        out.error = std::move(acquired).error();
        return out;
      }
      buf_ = std::move(*acquired);
    }
    const std::uint64_t want = std::min(
        {std::uint64_t{std::min(chunk_, buf_.capacity())}, progress_.left(), budget - out.bytes});
    sys::IoResult r = read_source(buf_.data(), static_cast<std::size_t>(want));
    if (r.would_block()) {
      buf_ = PoolBuffer{};  // empty: give it back while the source is idle
      out.wait = Wait{fd_of(src_), Direction::Read};
      return out;
    }
    if (!r.ok()) {
      out.error = Error(r.err, read_op(), describe_pair(src_, dst_));
      return out;
    }
    if (r.n == 0) eof_ = true;
    head_ = 0;
    tail_ = r.n;
    progress_.consumed += r.n;
  }
}

}  // namespace

Result<StrategyPtr> make_read_write(const Source& src, const Sink& dst,
                                    const StrategyContext& ctx) {
  if (kind_of(src) != EndpointKind::Memory && !ctx.buffers)
    return Error(EINVAL, "read-write", "no buffer pool in the strategy context");
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  return StrategyPtr(std::make_unique<ReadWriteStrategy>(src, dst, ctx, *limit));
}

}  // namespace zcnet::detail

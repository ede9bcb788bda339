// mmap: a file range is written to the sink straight from a mapping: the whole file from the
// engine's MappingCache when it takes the file (no mmap/munmap per transfer), else 8 MiB windows.
//
// Truncation safety. A mapped page past the file's end raises SIGBUS when *user space* touches it,
// and another process may truncate the file at any moment. zcnet therefore never reads the mapped
// bytes itself: only the kernel does, inside write()/send()/pwrite(). A fault taken in kernel mode
// on such a page is fixed up by the copy routine, so the syscall returns a short count or EFAULT
// instead of the process getting SIGBUS. On EFAULT or short progress we fstat the file; if it
// shrank below the range, the transfer ends in ENODATA naming the file and both sizes.
// Keep it that way: no memcpy, hashing or checksum over data() in this file, ever.
#include "sys/mmap_posix.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "sys/rw_posix.hpp"
#include "sys/sigpipe_posix.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/mapping_cache.hpp"

namespace zcnet::detail {

namespace {

// Bytes mapped at once: large enough that mmap/munmap cost vanishes, small enough to keep the
// address space and page-table footprint of many concurrent transfers modest.
constexpr std::uint64_t kWindowBytes = 8 * 1024 * 1024;

class MmapStrategy final : public Strategy {
 public:
  MmapStrategy(const FileRange& src, const Sink& dst, const StrategyContext& ctx,
               std::uint64_t limit, std::shared_ptr<const MappedFile> whole)
      : src_(src), dst_(dst), stats_(stats_or(ctx, own_stats_)), whole_(std::move(whole)) {
    progress_.limit = limit;
  }

  StrategyKind kind() const noexcept override { return StrategyKind::Mmap; }
  Outcome step(std::uint64_t budget) override;

 private:
  std::uint64_t end() const noexcept { return src_.offset + *progress_.limit; }
  std::optional<Error> map_window(std::uint64_t pos);
  // ENODATA if the file no longer holds the whole range (one fstat; error paths only).
  std::optional<Error> check_truncated() const;

  FileRange src_;
  Sink dst_;
  Stats own_stats_;
  Stats* stats_;
  Progress progress_;  // consumed == delivered: the kernel takes bytes straight from the mapping
  // The whole file from the engine's MappingCache, held until the transfer ends; else windows.
  std::shared_ptr<const MappedFile> whole_;
  sys::Mapping window_;
  const std::byte* window_data_ = nullptr;  // file offset window_begin_, in whole_ or window_
  std::uint64_t window_begin_ = 0;          // file offsets [window_begin_, window_end_) are mapped
  std::uint64_t window_end_ = 0;
};

std::optional<Error> MmapStrategy::map_window(std::uint64_t pos) {
  window_.reset();
  window_data_ = nullptr;
  if (whole_ && pos < whole_->size()) {
    window_data_ = whole_->data();
    window_begin_ = 0;
    window_end_ = std::min(end(), whole_->size());
    return std::nullopt;
  }
  const std::uint64_t stop = std::min(end(), pos + kWindowBytes);
  auto mapped = sys::Mapping::map_read(src_.fd, pos, static_cast<std::size_t>(stop - pos));
  if (!mapped) return std::move(mapped).error();
  window_ = std::move(*mapped);
  window_.advise_sequential();
  window_data_ = window_.data();
  window_begin_ = pos;
  window_end_ = stop;
  return std::nullopt;
}

std::optional<Error> MmapStrategy::check_truncated() const {
  struct stat st {};
  if (::fstat(src_.fd, &st) != 0) return last_error("fstat", describe_fd(src_.fd));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size >= end()) return std::nullopt;
  return Error(ENODATA, "mmap",
               fmt::format("{} shrank to {} B during the transfer, which needs {} B ({} B sent) "
                           "-> {}",
                           describe_fd(src_.fd), size, end(), progress_.delivered,
                           describe_fd(fd_of(dst_))));
}

Outcome MmapStrategy::step(std::uint64_t budget) {
  Outcome out;
  std::optional<sys::SigpipeBlock> no_sigpipe;  // sockets use MSG_NOSIGNAL; pipes need this
  if (kind_of(dst_) == EndpointKind::Pipe) no_sigpipe.emplace();

  for (;;) {
    const std::uint64_t pos = src_.offset + progress_.delivered;
    if (pos >= end()) {
      window_.reset();
      whole_.reset();
      out.done = true;
      return out;
    }
    if (out.bytes >= budget) return out;
    if (!window_data_ || pos >= window_end_) {
      if (auto err = map_window(pos)) {
        // Nothing was sent yet: the file cannot be mapped (e.g. a /proc file), try another way.
        out.handled = progress_.delivered > 0;
        out.error = std::move(err);
        return out;
      }
    }
    // At most a window per call even from the whole-file mapping: a blocking send of 64 MiB in
    // one call measured 14% slower than 8 MiB calls (1 GiB to a local peer; docs/performance.md,
    // the cached mapping).
    const std::uint64_t len = std::min({window_end_ - pos, budget - out.bytes, kWindowBytes});
    sys::IoResult w = write_sink(dst_, progress_.delivered, window_data_ + (pos - window_begin_),
                                 static_cast<std::size_t>(len), *stats_);
    if (w.would_block()) {
      out.wait = Wait{fd_of(dst_), Direction::Write};
      return out;
    }
    if (!w.ok()) {
      // EFAULT: the kernel met a page past the file's end (see the top of this file).
      std::optional<Error> truncated = w.err == EFAULT ? check_truncated() : std::nullopt;
      out.error = truncated ? std::move(truncated)
                            : Error(w.err, write_sink_op(dst_), describe_pair(src_, dst_));
      return out;
    }
    out.bytes += w.n;
    stats_->bytes += w.n;
    progress_.delivered += w.n;
    progress_.consumed += w.n;
    if (w.n < len) {
      if (auto truncated = check_truncated()) {
        out.error = std::move(truncated);
        return out;
      }
      if (w.n == 0) {
        out.error = Error(EIO, write_sink_op(dst_), describe_pair(src_, dst_));
        return out;
      }
    }
  }
}

}  // namespace

Result<StrategyPtr> make_mmap(const Source& src, const Sink& dst, const StrategyContext& ctx) {
  const auto* file = std::get_if<FileRange>(&src);
  if (!file) return unsupported_pair(StrategyKind::Mmap, src, dst);
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  // A failed lookup (EBADF, a file mmap refuses) is left to the first step, which reports it
  // with the windowed path's handled/fallback semantics.
  std::shared_ptr<const MappedFile> whole;
  if (ctx.mappings && limit->value_or(0) > 0)
    if (auto m = ctx.mappings->acquire(file->fd, file->offset + **limit)) whole = std::move(*m);
  return StrategyPtr(
      std::make_unique<MmapStrategy>(*file, dst, ctx, limit->value_or(0), std::move(whole)));
}

}  // namespace zcnet::detail

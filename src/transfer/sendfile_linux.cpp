// sendfile: file -> socket or pipe with sendfile(2), file -> file with copy_file_range(2). Bytes
// never enter user space. The source offset is always explicit: the fd's position is not used.
// File sinks use copy_file_range because sendfile writes at the sink fd's position, and sinks
// have pwrite semantics (endpoint.hpp); libuv's uv__fs_sendfile makes the same choice.
#include "sys/sendfile_linux.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "sys/sigpipe_posix.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

// Per call: below the kernel's own cap (MAX_RW_COUNT, 2 GiB - 4 KiB).
constexpr std::uint64_t kMaxCall = 1ull << 30;

class SendfileStrategy final : public Strategy {
 public:
  SendfileStrategy(const FileRange& src, const Sink& dst, const StrategyContext& ctx,
                   std::uint64_t limit)
      : src_(src), dst_(dst), stats_(stats_or(ctx, own_stats_)) {
    progress_.limit = limit;
  }

  StrategyKind kind() const noexcept override { return StrategyKind::Sendfile; }
  Outcome step(std::uint64_t budget) override;

 private:
  bool to_file() const noexcept { return kind_of(dst_) == EndpointKind::File; }
  const char* op() const noexcept { return to_file() ? "copy_file_range" : "sendfile"; }
  Error truncated() const;

  FileRange src_;
  Sink dst_;
  Stats own_stats_;
  Stats* stats_;
  Progress progress_;  // consumed == delivered: the kernel moves bytes in one call
};

Error SendfileStrategy::truncated() const {
  struct stat st {};
  const bool known = ::fstat(src_.fd, &st) == 0;
  return Error(
      ENODATA, op(),
      fmt::format("{} ended after {} of {} B (file is now {} B) -> {}", describe_fd(src_.fd),
                  progress_.delivered, *progress_.limit,
                  known ? std::to_string(st.st_size) : std::string("?"), describe_fd(fd_of(dst_))));
}

Outcome SendfileStrategy::step(std::uint64_t budget) {
  Outcome out;
  // sendfile has no MSG_NOSIGNAL: a reset peer or a closed pipe reader would raise SIGPIPE.
  std::optional<sys::SigpipeBlock> no_sigpipe;
  if (!to_file()) no_sigpipe.emplace();

  for (;;) {
    if (progress_.all_consumed()) {
      out.done = true;
      return out;
    }
    if (out.bytes >= budget) return out;
    const auto len =
        static_cast<std::size_t>(std::min({progress_.left(), budget - out.bytes, kMaxCall}));
    std::uint64_t in_off = src_.offset + progress_.delivered;
    ++stats_->syscalls;
    sys::IoResult r;
    if (to_file()) {
      std::uint64_t out_off = *sink_offset(dst_, progress_.delivered);
      r = sys::copy_file_range(src_.fd, in_off, fd_of(dst_), out_off, len);
    } else {
      r = sys::sendfile(fd_of(dst_), src_.fd, in_off, len);
    }
    if (r.would_block()) {
      out.wait = Wait{fd_of(dst_), Direction::Write};
      return out;
    }
    if (!r.ok()) {
      out.handled = !(progress_.delivered == 0 && sys::sendfile_unsupported(r.err));
      out.error = Error(r.err, op(), describe_pair(src_, dst_));
      return out;
    }
    if (r.n == 0) {  // the file ended before the range did: it was truncated
      out.error = truncated();
      return out;
    }
    out.bytes += r.n;
    stats_->bytes += r.n;
    progress_.consumed += r.n;
    progress_.delivered += r.n;
  }
}

}  // namespace

Result<StrategyPtr> make_sendfile(const Source& src, const Sink& dst, const StrategyContext& ctx) {
  const auto* file = std::get_if<FileRange>(&src);
  if (!file || (ctx.caps && !allows(*ctx.caps, StrategyKind::Sendfile)))
    return unsupported_pair(StrategyKind::Sendfile, src, dst);
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  return StrategyPtr(std::make_unique<SendfileStrategy>(*file, dst, ctx, limit->value_or(0)));
}

}  // namespace zcnet::detail

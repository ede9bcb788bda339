// tee: every byte goes to the sink and to ctx.mirror, with no copy in user space. The bytes sit
// in a primary pipe (the source itself when it is a pipe; for a socket, a pooled pipe it is
// spliced into); tee(2) duplicates them into a second pooled pipe, and each pipe is spliced out to
// its own end. The slower of sink and mirror paces the stream: nothing new is duplicated until
// both have taken everything duplicated before, so nothing is lost and memory stays bounded.
#include <fcntl.h>

#include <algorithm>
#include <optional>

#include "sys/sigpipe_posix.hpp"
#include "sys/splice_linux.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

bool means_unsupported(int err) noexcept {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

class TeeStrategy final : public Strategy {
 public:
  TeeStrategy(const Source& src, const Sink& dst, const Sink& mirror, const StrategyContext& ctx,
              std::optional<std::uint64_t> limit)
      : src_(src),
        dst_(dst),
        mirror_(mirror),
        pipes_(ctx.pipes),
        stats_(stats_or(ctx, own_stats_)) {
    progress_.limit = limit;
  }

  StrategyKind kind() const noexcept override { return StrategyKind::Tee; }
  Outcome step(std::uint64_t budget) override;

 private:
  bool from_pipe() const noexcept { return kind_of(src_) == EndpointKind::Pipe; }
  int primary_fd() const noexcept { return from_pipe() ? fd_of(src_) : primary_.read_fd(); }
  // Splices duplicated bytes out to the sink and the mirror. Returns false with `out` filled in
  // when neither could take anything (out.wait) or one failed (out.error).
  bool flush_duplicated(std::uint64_t budget, Outcome& out);
  // Puts new bytes at the head of the primary pipe and duplicates them. False: see out.
  bool duplicate_more(std::uint64_t budget, Outcome& out);
  std::optional<Error> lease(PipeLease& lease);
  Outcome& fail(Outcome& out, int err, const Sink& end, bool may_fall_back);
  Outcome& finish(Outcome& out);

  Source src_;
  Sink dst_;
  Sink mirror_;
  PipePool* pipes_;
  Stats own_stats_;
  Stats* stats_;
  Progress progress_;
  PipeLease primary_;  // socket source only: the pipe the socket is spliced into
  PipeLease copy_;     // the mirror's pipe; copy_.buffered() bytes wait for the mirror
  // Bytes at the head of the primary pipe that are duplicated in copy_ but not yet in the sink.
  std::size_t ahead_ = 0;
  bool eof_ = false;
};

std::optional<Error> TeeStrategy::lease(PipeLease& l) {
  if (l) return std::nullopt;
  auto leased = pipes_->acquire();
  if (!leased) return std::move(leased).error();
  l = std::move(*leased);
  return std::nullopt;
}

Outcome& TeeStrategy::fail(Outcome& out, int err, const Sink& end, bool may_fall_back) {
  out.handled = !(may_fall_back && progress_.consumed == 0 && means_unsupported(err));
  const char* role = &end == &mirror_ ? "mirror " : "";
  out.error = Error(err, "tee", describe_fd(fd_of(src_)) + " -> " + role + describe_fd(fd_of(end)));
  // Pipes still holding bytes are closed by their leases, never pooled.
  primary_ = PipeLease{};
  copy_ = PipeLease{};
  return out;
}

Outcome& TeeStrategy::finish(Outcome& out) {
  primary_ = PipeLease{};
  copy_ = PipeLease{};
  if (eof_ && progress_.short_of_limit())
    out.error = source_ended("tee", src_, dst_, progress_.consumed, *progress_.limit);
  else
    out.done = true;
  return out;
}

bool TeeStrategy::flush_duplicated(std::uint64_t budget, Outcome& out) {
  std::optional<Wait> blocked;
  bool moved = false;
  if (ahead_ > 0) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(ahead_, budget - out.bytes));
    const bool more = progress_.limit && progress_.delivered + len < *progress_.limit;
    std::optional<std::uint64_t> off = sink_offset(dst_, progress_.delivered);
    ++stats_->syscalls;
    sys::IoResult r = sys::splice(primary_fd(), nullptr, fd_of(dst_), off ? &*off : nullptr, len,
                                  SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0u));
    if (r.would_block()) {
      blocked = Wait{fd_of(dst_), Direction::Write};  // the primary pipe holds ahead_ > 0 bytes
    } else if (!r.ok() || r.n == 0) {
      fail(out, r.ok() ? EIO : r.err, dst_, false);
      return false;
    } else {
      ahead_ -= r.n;
      if (!from_pipe()) primary_.drained(r.n);
      out.bytes += r.n;
      stats_->bytes += r.n;
      progress_.delivered += r.n;
      moved = true;
    }
  }
  if (copy_.buffered() > 0) {
    ++stats_->syscalls;
    sys::IoResult r = sys::splice(copy_.read_fd(), nullptr, fd_of(mirror_), nullptr,
                                  copy_.buffered(), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (r.would_block()) {
      if (!blocked) blocked = Wait{fd_of(mirror_), Direction::Write};
    } else if (!r.ok() || r.n == 0) {
      fail(out, r.ok() ? EIO : r.err, mirror_, false);
      return false;
    } else {
      copy_.drained(r.n);
      moved = true;
    }
  }
  if (!moved) out.wait = blocked;
  return moved;
}

bool TeeStrategy::duplicate_more(std::uint64_t budget, Outcome& out) {
  if (auto err = lease(copy_)) {
    out.handled = progress_.consumed > 0;
    out.error = std::move(err);
    return false;
  }
  std::size_t len = 0;
  if (from_pipe()) {
    len = static_cast<std::size_t>(
        std::min({std::uint64_t{copy_.capacity()}, progress_.left(), budget - out.bytes}));
  } else {
    if (auto err = lease(primary_)) {
      out.handled = progress_.consumed > 0;
      out.error = std::move(err);
      return false;
    }
    if (primary_.buffered() == 0) {
      // Invariant: the primary pipe is empty, so an EAGAIN means the socket has nothing.
      const auto want = static_cast<std::size_t>(
          std::min({std::uint64_t{primary_.capacity()}, progress_.left(), budget - out.bytes}));
      ++stats_->syscalls;
      sys::IoResult r = sys::splice(fd_of(src_), nullptr, primary_.write_fd(), nullptr, want,
                                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (r.would_block()) {
        primary_ = PipeLease{};  // both pipes are empty: back to the pool while idle
        copy_ = PipeLease{};
        out.wait = Wait{fd_of(src_), Direction::Read};
        return false;
      }
      if (!r.ok()) {
        fail(out, r.err, dst_, true);
        return false;
      }
      if (r.n == 0) {
        eof_ = true;
        return true;
      }
      primary_.filled(r.n);
      progress_.consumed += r.n;
    }
    len = primary_.buffered();
  }
  // Invariant: nothing duplicated is pending (copy_ is empty, ahead_ == 0), so tee's EAGAIN can
  // only mean the primary pipe is empty.
  ++stats_->syscalls;
  sys::IoResult r = sys::tee(primary_fd(), copy_.write_fd(), len, SPLICE_F_NONBLOCK);
  if (r.would_block() && from_pipe()) {
    copy_ = PipeLease{};
    out.wait = Wait{fd_of(src_), Direction::Read};
    return false;
  }
  if (!r.ok()) {
    fail(out, r.err, mirror_, true);
    return false;
  }
  if (r.n == 0) {
    if (!from_pipe()) {  // the primary pipe holds bytes: tee cannot see an end
      fail(out, EIO, mirror_, false);
      return false;
    }
    eof_ = true;  // no writer left and nothing in the pipe
    return true;
  }
  ahead_ = r.n;
  copy_.filled(r.n);
  if (from_pipe()) progress_.consumed += r.n;
  return true;
}

Outcome TeeStrategy::step(std::uint64_t budget) {
  Outcome out;
  sys::SigpipeBlock no_sigpipe;  // the mirror is a pipe or socket, and splice has no MSG_NOSIGNAL
  for (;;) {
    const bool pending = ahead_ > 0 || copy_.buffered() > 0;
    if (!pending && (eof_ || progress_.all_consumed())) return finish(out);
    if (out.bytes >= budget) return out;
    if (pending) {
      if (!flush_duplicated(budget, out)) return out;
    } else if (!duplicate_more(budget, out)) {
      return out;
    }
  }
}

bool pipe_or_socket(EndpointKind k) noexcept {
  return k == EndpointKind::Pipe || k == EndpointKind::Socket;
}

}  // namespace

Result<StrategyPtr> make_tee(const Source& src, const Sink& dst, const StrategyContext& ctx) {
  if (!pipe_or_socket(kind_of(src)) || (ctx.caps && !allows(*ctx.caps, StrategyKind::Tee)))
    return unsupported_pair(StrategyKind::Tee, src, dst);
  if (!ctx.mirror) return Error(EOPNOTSUPP, "tee", "no mirror sink to duplicate into");
  if (!pipe_or_socket(kind_of(*ctx.mirror)))
    return Error(EOPNOTSUPP, "tee", "the mirror must be a pipe or a socket");
  if (!ctx.pipes) return Error(EOPNOTSUPP, "tee", "no pipe pool in the strategy context");
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  return StrategyPtr(std::make_unique<TeeStrategy>(src, dst, *ctx.mirror, ctx, *limit));
}

}  // namespace zcnet::detail

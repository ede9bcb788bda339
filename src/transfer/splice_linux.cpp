// splice: bytes move between fds through a pipe's page references, never through user space.
// When one end already is a pipe, one splice(2) moves them directly; otherwise they go through a
// pipe leased from ctx.pipes (fill: source -> pipe, drain: pipe -> sink).
//
// The EAGAIN ambiguity (HAProxy raw_sock.c, sozu #1323): splice(source -> pipe) fails with EAGAIN
// both when the source is empty and when the pipe is full. The leased pipe is therefore always
// drained before it is filled again, and the lease counts what it holds (filled/drained), so a
// fill only ever runs on an empty pipe and its EAGAIN can only mean "the source has nothing".
#include "sys/splice_linux.hpp"

#include <fcntl.h>

#include <algorithm>
#include <optional>

#include "sys/sigpipe_posix.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

constexpr std::uint64_t kMaxCall = 1ull << 30;  // per direct splice; the pipe bounds it anyway

// A first call failing with one of these means "this fd cannot splice": nothing was consumed.
bool means_unsupported(int err) noexcept {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

class SpliceStrategy final : public Strategy {
 public:
  SpliceStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                 std::optional<std::uint64_t> limit)
      : src_(src),
        dst_(dst),
        pipes_(ctx.pipes),
        stats_(stats_or(ctx, own_stats_)),
        direct_(kind_of(src) == EndpointKind::Pipe || kind_of(dst) == EndpointKind::Pipe) {
    progress_.limit = limit;
  }

  StrategyKind kind() const noexcept override { return StrategyKind::Splice; }
  Outcome step(std::uint64_t budget) override;

 private:
  Outcome step_direct(std::uint64_t budget);
  Outcome step_through_pipe(std::uint64_t budget);
  // Ends the transfer once the source is used up: done, or ENODATA if it ended short.
  Outcome finish(Outcome out);
  // splice(source -> out_fd) at the source's position; counts the call.
  sys::IoResult splice_from_source(int out_fd, std::size_t len, unsigned flags);
  // splice(in_fd -> sink) at the sink's position; counts the call.
  sys::IoResult splice_to_sink(int in_fd, std::size_t len, unsigned flags);
  // After a direct splice's EAGAIN: which end to wait for.
  Wait blocked_end() const noexcept;
  bool more_follows(std::uint64_t after_this) const noexcept {
    return progress_.limit && progress_.delivered + after_this < *progress_.limit;
  }
  void delivered(std::size_t n, Outcome& out) noexcept {
    out.bytes += n;
    stats_->bytes += n;
    progress_.delivered += n;
  }
  Outcome fail(Outcome out, int err, bool may_fall_back);

  Source src_;
  Sink dst_;
  PipePool* pipes_;
  Stats own_stats_;
  Stats* stats_;
  Progress progress_;
  bool direct_;
  bool eof_ = false;
  bool sink_checked_ = false;
  PipeLease lease_;  // held only while it carries bytes: an idle relay holds no pipe
};

sys::IoResult SpliceStrategy::splice_from_source(int out_fd, std::size_t len, unsigned flags) {
  ++stats_->syscalls;
  if (const auto* f = std::get_if<FileRange>(&src_)) {
    std::uint64_t off = f->offset + progress_.consumed;
    return sys::splice(f->fd, &off, out_fd, nullptr, len, flags);
  }
  return sys::splice(fd_of(src_), nullptr, out_fd, nullptr, len, flags);
}

sys::IoResult SpliceStrategy::splice_to_sink(int in_fd, std::size_t len, unsigned flags) {
  ++stats_->syscalls;
  if (auto off = sink_offset(dst_, progress_.delivered))
    return sys::splice(in_fd, nullptr, fd_of(dst_), &*off, len, flags);
  return sys::splice(in_fd, nullptr, fd_of(dst_), nullptr, len, flags);
}

Wait SpliceStrategy::blocked_end() const noexcept {
  // A file source always has data for splice. A pipe or socket source with bytes queued
  // (FIONREAD) means the sink side was full; with none, the source was empty. A race with new
  // data only costs one extra wakeup: the next step retries.
  if (kind_of(src_) == EndpointKind::File) return Wait{fd_of(dst_), Direction::Write};
  sys::IoResult queued = sys::bytes_readable(fd_of(src_));
  if (queued.ok() && queued.n > 0) return Wait{fd_of(dst_), Direction::Write};
  return Wait{fd_of(src_), Direction::Read};
}

Outcome SpliceStrategy::finish(Outcome out) {
  lease_ = PipeLease{};  // empty here: back to the pool
  if (eof_ && progress_.short_of_limit()) {
    out.error = source_ended("splice", src_, dst_, progress_.consumed, *progress_.limit);
    return out;
  }
  out.done = true;
  return out;
}

Outcome SpliceStrategy::fail(Outcome out, int err, bool may_fall_back) {
  out.handled = !(may_fall_back && progress_.consumed == 0 && means_unsupported(err));
  out.error = Error(err, "splice", describe_pair(src_, dst_));
  lease_ = PipeLease{};  // a pipe still holding bytes is closed by its lease, never pooled
  return out;
}

Outcome SpliceStrategy::step(std::uint64_t budget) {
  // splice has no MSG_NOSIGNAL: a reset peer or a closed pipe reader would raise SIGPIPE.
  std::optional<sys::SigpipeBlock> no_sigpipe;
  if (kind_of(dst_) != EndpointKind::File) no_sigpipe.emplace();
  return direct_ ? step_direct(budget) : step_through_pipe(budget);
}

Outcome SpliceStrategy::step_direct(std::uint64_t budget) {
  Outcome out;
  for (;;) {
    if (eof_ || progress_.all_consumed()) return finish(std::move(out));
    if (out.bytes >= budget) return out;
    const auto len =
        static_cast<std::size_t>(std::min({progress_.left(), budget - out.bytes, kMaxCall}));
    const unsigned flags =
        SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more_follows(len) ? SPLICE_F_MORE : 0u);
    sys::IoResult r;
    if (kind_of(src_) == EndpointKind::Pipe)
      r = splice_to_sink(fd_of(src_), len, flags);
    else
      r = splice_from_source(fd_of(dst_), len, flags);
    if (r.would_block()) {
      out.wait = blocked_end();
      return out;
    }
    if (!r.ok()) return fail(std::move(out), r.err, true);
    if (r.n == 0) {
      eof_ = true;
      continue;
    }
    progress_.consumed += r.n;
    delivered(r.n, out);
  }
}

Outcome SpliceStrategy::step_through_pipe(std::uint64_t budget) {
  Outcome out;
  for (;;) {
    const bool pipe_empty = !lease_ || lease_.buffered() == 0;
    if (pipe_empty && (eof_ || progress_.all_consumed())) return finish(std::move(out));
    if (out.bytes >= budget) return out;
    // Invariant: when entering the drain, lease_.buffered() is exactly what the pipe holds, so
    // the pipe is not empty and an EAGAIN can only mean the sink is full.
    if (!pipe_empty) {
      const auto len =
          static_cast<std::size_t>(std::min<std::uint64_t>(lease_.buffered(), budget - out.bytes));
      sys::IoResult r = splice_to_sink(
          lease_.read_fd(), len,
          SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more_follows(len) ? SPLICE_F_MORE : 0u));
      if (r.would_block()) {
        out.wait = Wait{fd_of(dst_), Direction::Write};
        return out;
      }
      if (!r.ok()) return fail(std::move(out), r.err, false);
      if (r.n == 0) return fail(std::move(out), EIO, false);  // a pipe with data gave nothing
      lease_.drained(r.n);
      delivered(r.n, out);
      continue;
    }
    // Invariant: the pipe is empty here, so an EAGAIN from the fill means the source is empty.
    if (!lease_) {
      auto leased = pipes_->acquire();
      if (!leased) {
        out.handled = progress_.consumed > 0;  // e.g. EMFILE: read-write needs no pipe
        out.error = std::move(leased).error();
        return out;
      }
      lease_ = std::move(*leased);
    }
    if (!sink_checked_ && kind_of(dst_) == EndpointKind::File) {
      // A file sink that cannot take a splice (O_APPEND, no splice_write) is found out before any
      // byte is taken from the source: from an empty pipe the answer is EAGAIN or the refusal.
      sink_checked_ = true;
      sys::IoResult probe = splice_to_sink(lease_.read_fd(), 1, SPLICE_F_NONBLOCK);
      if (!probe.ok() && !probe.would_block()) return fail(std::move(out), probe.err, true);
    }
    const auto len = static_cast<std::size_t>(
        std::min({std::uint64_t{lease_.capacity()}, progress_.left(), budget - out.bytes}));
    sys::IoResult r = splice_from_source(lease_.write_fd(), len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (r.would_block()) {
      lease_ = PipeLease{};  // empty: back to the pool while the source is idle
      out.wait = Wait{fd_of(src_), Direction::Read};
      return out;
    }
    if (!r.ok()) return fail(std::move(out), r.err, true);
    if (r.n == 0) {
      eof_ = true;
      continue;
    }
    lease_.filled(r.n);
    progress_.consumed += r.n;
  }
}

}  // namespace

Result<StrategyPtr> make_splice(const Source& src, const Sink& dst, const StrategyContext& ctx) {
  const bool direct = kind_of(src) == EndpointKind::Pipe || kind_of(dst) == EndpointKind::Pipe;
  if (kind_of(src) == EndpointKind::Memory ||
      (ctx.caps && !allows(*ctx.caps, StrategyKind::Splice)))
    return unsupported_pair(StrategyKind::Splice, src, dst);
  if (!direct && !ctx.pipes)
    return Error(EOPNOTSUPP, "splice", "no pipe pool in the strategy context");
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  return StrategyPtr(std::make_unique<SpliceStrategy>(src, dst, ctx, *limit));
}

}  // namespace zcnet::detail

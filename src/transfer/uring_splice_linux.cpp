// uring-splice: File -> Socket, Socket -> File and Socket -> Socket with IORING_OP_SPLICE
// through a pooled pipe, no byte passing through user space.
//
// One round = splice source -> pipe, linked (IOSQE_IO_LINK) to splice pipe -> sink, in one
// submit. A short splice-in fails the link, so the splice-out is cancelled and the next round
// drains what the pipe holds (PipeLease::buffered()) before reading more. Invariant: when a round
// starts with a splice-in, the pipe is empty; a lease still holding bytes is closed, not pooled.
//
// Waiting. io_uring runs splice in its worker threads. Our pooled pipes are O_NONBLOCK, so the
// kernel splices with SPLICE_F_NONBLOCK and reports -EAGAIN instead of parking a worker on a
// socket with nothing to read or no room; we then wait for that socket (Read / Write) and
// resubmit. While a round is in flight we wait on the ring fd, readable when completions arrive.
//
// Ring. Each strategy owns a small ring; a per-thread proactor ring comes with the event loop.
#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "sys/uring_linux.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

constexpr unsigned kRingEntries = 8;
constexpr std::uint64_t kIn = 1;   // user_data of the splice into the pipe
constexpr std::uint64_t kOut = 2;  // user_data of the splice out of the pipe

class UringSpliceStrategy final : public Strategy {
 public:
  UringSpliceStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                      std::optional<std::uint64_t> limit, sys::UringRing ring)
      : src_(src),
        dst_(dst),
        pipes_(ctx.pipes),
        stats_(stats_or(ctx, own_stats_)),
        ring_(std::move(ring)) {
    progress_.limit = limit;
  }
  ~UringSpliceStrategy() override;
  UringSpliceStrategy(const UringSpliceStrategy&) = delete;
  UringSpliceStrategy& operator=(const UringSpliceStrategy&) = delete;

  StrategyKind kind() const noexcept override { return StrategyKind::UringSplice; }
  Outcome step(std::uint64_t budget) override;

 private:
  void submit_round();
  void harvest(Outcome& out);
  bool finished() const noexcept {
    return pipe_.buffered() == 0 && (progress_.all_consumed() || source_ended_);
  }

  Source src_;
  Sink dst_;
  PipePool* pipes_;
  Stats own_stats_;  // when the caller passed no stats
  Stats* stats_;
  sys::UringRing ring_;
  PipeLease pipe_;
  Progress progress_;
  unsigned in_flight_ = 0;      // splices submitted and not completed
  bool source_ended_ = false;   // splice-in returned 0 (EOF)
  std::optional<Wait> wait_;    // a splice reported EAGAIN: wait for this fd, then resubmit
  std::optional<Error> error_;  // first failed splice
};

UringSpliceStrategy::~UringSpliceStrategy() {
  if (in_flight_ == 0) {
    sys::give_back_ring(std::move(ring_), kRingEntries);
    return;
  }
  // A worker may still splice into or out of the pipe: cancel, give it a moment, and if it is
  // still running mark the lease dirty so the pipe is closed instead of pooled.
  ring_.cancel_all();
  Outcome ignored;
  for (int i = 0; i < 20 && in_flight_ > 0; ++i) {
    ring_.wait_for_completion(10'000'000);
    harvest(ignored);
  }
  if (in_flight_ > 0) pipe_.filled(1);
}

void UringSpliceStrategy::submit_round() {
  io_uring* ring = ring_.get();
  const int in_fd = fd_of(src_);
  const int out_fd = fd_of(dst_);
  const auto* in_file = std::get_if<FileRange>(&src_);
  const auto out_off = sink_offset(dst_, progress_.delivered);
  const std::int64_t out_offset = out_off ? static_cast<std::int64_t>(*out_off) : -1;
  std::size_t out_len = pipe_.buffered();
  if (out_len == 0) {
    // Invariant: the pipe is empty, so up to its capacity fits.
    const auto len = static_cast<unsigned>(
        std::min<std::uint64_t>({progress_.left(), pipe_.capacity(), 1U << 30}));
    io_uring_sqe* in = io_uring_get_sqe(ring);
    const std::int64_t in_offset =
        in_file ? static_cast<std::int64_t>(in_file->offset + progress_.consumed) : -1;
    io_uring_prep_splice(in, in_fd, in_offset, pipe_.write_fd(), -1, len, SPLICE_F_MOVE);
    io_uring_sqe_set_data64(in, kIn);
    in->flags |= IOSQE_IO_LINK;  // the splice-out runs only if this one filled `len`
    ++in_flight_;
    out_len = len;
  }
  const bool more = !progress_.all_consumed() &&
                    (!progress_.limit || progress_.consumed + out_len < *progress_.limit);
  io_uring_sqe* out = io_uring_get_sqe(ring);
  io_uring_prep_splice(out, pipe_.read_fd(), -1, out_fd, out_offset, static_cast<unsigned>(out_len),
                       SPLICE_F_MOVE | (more ? SPLICE_F_MORE : 0));
  io_uring_sqe_set_data64(out, kOut);
  ++in_flight_;
  if (const int rc = ring_.submit(stats_->syscalls); rc < 0) {
    in_flight_ = 0;
    error_ = Error(-rc, "io_uring_submit", describe_pair(src_, dst_));
  }
}

void UringSpliceStrategy::harvest(Outcome& out) {
  ring_.for_each_completion([&](const io_uring_cqe& cqe) {
    const std::uint64_t which = cqe.user_data;
    if (which != kIn && which != kOut) return;  // the destructor's cancel
    --in_flight_;
    const int res = cqe.res;
    if (res == -EAGAIN) {
      // Only a splice-in that moved nothing, or a splice-out: wait for the socket in question.
      wait_ =
          which == kIn ? Wait{fd_of(src_), Direction::Read} : Wait{fd_of(dst_), Direction::Write};
    } else if (res == -ECANCELED) {
      // The splice-out of a short round: the next round drains the pipe.
    } else if (res < 0) {
      if (!error_)
        error_ = Error(-res, which == kIn ? "io_uring splice in" : "io_uring splice out",
                       describe_pair(src_, dst_));
    } else if (which == kIn) {
      const auto n = static_cast<std::size_t>(res);
      if (n == 0) source_ended_ = true;
      pipe_.filled(n);
      progress_.consumed += n;
    } else {
      const auto n = static_cast<std::size_t>(res);
      pipe_.drained(n);
      progress_.delivered += n;
      out.bytes += n;
      stats_->bytes += n;
    }
  });
}

Outcome UringSpliceStrategy::step(std::uint64_t budget) {
  Outcome out;
  if (!pipe_) {
    auto lease = pipes_->acquire();
    if (!lease) {
      // Nothing consumed yet (EMFILE ...): the next strategy may do without a pipe.
      out.handled = false;
      out.error = std::move(lease).error();
      return out;
    }
    pipe_ = std::move(*lease);
  }
  for (;;) {
    harvest(out);
    if (in_flight_ > 0) {
      if (io_uring_cq_ready(ring_.get()) > 0) continue;
      out.wait = Wait{ring_.fd(), Direction::Read};
      return out;
    }
    if (error_) {
      out.error = std::move(error_);
      error_.reset();
      return out;
    }
    if (finished()) {
      if (source_ended_ && progress_.short_of_limit()) {
        out.error =
            source_ended("io_uring splice", src_, dst_, progress_.consumed, *progress_.limit);
        return out;
      }
      out.done = true;
      return out;
    }
    if (wait_) {
      out.wait = std::exchange(wait_, std::nullopt);
      return out;
    }
    if (out.bytes >= budget) return out;
    submit_round();
  }
}

}  // namespace

Result<StrategyPtr> make_uring_splice(const Source& src, const Sink& dst,
                                      const StrategyContext& ctx) {
  const EndpointKind sk = kind_of(src);
  const EndpointKind dk = kind_of(dst);
  const bool pair_ok =
      (sk == EndpointKind::File && dk == EndpointKind::Socket) ||
      (sk == EndpointKind::Socket && (dk == EndpointKind::File || dk == EndpointKind::Socket));
  if (!pair_ok || ctx.pipes == nullptr)
    return unsupported_pair(StrategyKind::UringSplice, src, dst);
  if (!allows(ctx.caps ? *ctx.caps : Capabilities::probe(), StrategyKind::UringSplice))
    return Error(EOPNOTSUPP, "select", "uring-splice: not available on this kernel");
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  int rc = 0;
  sys::UringRing ring = sys::take_ring(kRingEntries, rc);
  if (rc < 0)  // disabled by sysctl or seccomp: fall back
    return Error(EOPNOTSUPP, "io_uring_queue_init",
                 fmt::format("uring-splice: io_uring unavailable ({})", errno_name(-rc)));
  return StrategyPtr(std::make_unique<UringSpliceStrategy>(src, dst, ctx, *limit, std::move(ring)));
}

}  // namespace zcnet::detail

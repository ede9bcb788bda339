// uring-send and uring-send-zc: File or Memory -> Socket through io_uring (IORING_OP_SEND, or
// IORING_OP_SEND_ZC which sends straight from our pages). One class, `zerocopy` picks the opcode.
//
// Ring. Each strategy owns a small ring for its transfer (kRingEntries), borrowed from and given
// back to a per-thread cache of idle rings (sys::take_ring); a per-thread proactor ring that many
// transfers share comes with the event loop (src/loop/).
//
// Ordering. Sends on one stream socket must not overlap, or a short send would interleave with
// the next. So up to kDepth chunks go in one chain linked with IOSQE_IO_LINK, each with
// MSG_WAITALL (the kernel retries a partial send itself; a short result means an error and
// cancels the rest of the chain). The next chain is submitted only when the previous one has
// completed: its data then sits in the socket buffer, so the wire does not go idle while we
// submit. File chunks for the next chain are pread while the current one is in flight.
//
// Zero-copy. A send_zc yields two completions: the result (IORING_CQE_F_MORE set when a
// notification follows) and later the notification (IORING_CQE_F_NOTIF) when the kernel has
// released the pages. A buffer goes back to the pool only on the notification, and the transfer
// is done only when every notification arrived, so a Memory source may be overwritten as soon as
// the transfer returns.
//
// Waiting. While anything is in flight a step returns Wait{ring fd, Read}: the ring fd polls
// readable once completions are posted (checked by the tests with poll() on this kernel).
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <vector>

#include "sys/uring_linux.hpp"
#include "transfer/chunk_reader.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

constexpr unsigned kRingEntries = 64;
constexpr std::size_t kDepth = 4;           // chunks per linked chain
constexpr std::size_t kSlots = 3 * kDepth;  // a chain in flight, the next one, lent buffers
// Registering the pool pins every pre-allocated buffer: worth it for big transfers only.
constexpr std::uint64_t kRegisterMinBytes = 1 << 20;

class UringSendStrategy final : public Strategy {
 public:
  UringSendStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                    std::optional<std::uint64_t> limit, bool zerocopy, sys::UringRing ring);
  ~UringSendStrategy() override;
  UringSendStrategy(const UringSendStrategy&) = delete;
  UringSendStrategy& operator=(const UringSendStrategy&) = delete;

  StrategyKind kind() const noexcept override {
    return zerocopy_ ? StrategyKind::UringSendZc : StrategyKind::UringSend;
  }
  Outcome step(std::uint64_t budget) override;

 private:
  // One chunk on its way to the socket. Ownership of a File chunk's buffer: the slot holds the
  // handle until the chunk is fully sent, its send's result is in, and (send_zc) every
  // notification for it arrived; clearing the slot then returns the buffer to the pool.
  struct Slot {
    ChunkReader::Chunk chunk;
    std::size_t sent = 0;
    bool used = false;
    bool in_chain = false;     // listed in chain_ (until finish_chain)
    bool in_flight = false;    // result completion pending
    std::uint32_t notifs = 0;  // send_zc notifications pending (buffer lent to the kernel)
  };

  void fill_ready(std::optional<Error>& fill_error);
  void submit_chain();
  void harvest(Outcome& out);
  void on_result(Slot& s, const io_uring_cqe& cqe, Outcome& out);
  void on_notification(Slot& s, const io_uring_cqe& cqe);
  void finish_chain();
  void maybe_free(Slot& s);
  bool in_flight() const noexcept { return chain_pending_ > 0 || notifs_ > 0; }
  const char* op() const noexcept { return zerocopy_ ? "io_uring send_zc" : "io_uring send"; }
  std::string route() const { return reader_.route(); }

  Stats own_stats_;  // when the caller passed no stats
  Stats* stats_;
  ChunkReader reader_;
  int sock_;
  bool zerocopy_;
  bool fixed_ = false;  // the pool's buffers are registered with this ring
  sys::UringRing ring_;
  std::vector<Slot> slots_;
  std::deque<std::size_t> ready_;   // slots with bytes to send, in stream order
  std::vector<std::size_t> chain_;  // slots of the chain in flight, in stream order
  std::size_t chain_pending_ = 0;   // results of chain_ not yet in
  std::uint32_t notifs_ = 0;        // notifications not yet in (all slots)
  bool wait_socket_ = false;        // a send reported EAGAIN: wait for the socket, then resend
  std::optional<Error> error_;      // first failed send; reported once the chain is over
};

UringSendStrategy::UringSendStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                                     std::optional<std::uint64_t> limit, bool zerocopy,
                                     sys::UringRing ring)
    : stats_(stats_or(ctx, own_stats_)),
      reader_(src, dst, ctx, limit, stats_),
      sock_(fd_of(dst)),
      zerocopy_(zerocopy),
      ring_(std::move(ring)),
      slots_(kSlots) {
  const bool big = !limit || *limit >= kRegisterMinBytes;
  if (zerocopy_ && reader_.is_file() && big && ctx.caps != nullptr &&
      ctx.caps->uring_fixed_buffers) {
    // Failure (RLIMIT_MEMLOCK, ...) only costs the page pinning per send: plain send_zc.
    fixed_ = static_cast<bool>(ctx.buffers->register_with(ring_.get()));
  }
}

UringSendStrategy::~UringSendStrategy() {
  if (!in_flight()) {
    // Registered buffers belong to this transfer's pool lease: such a ring is not reused.
    if (!fixed_) sys::give_back_ring(std::move(ring_), kRingEntries);
    return;
  }
  // Abandoned mid-flight (error, or the caller gave up): cancel what can be cancelled and collect
  // what completes within a short grace period.
  ring_.cancel_all();
  Outcome ignored;
  for (int i = 0; i < 20 && in_flight(); ++i) {
    ring_.wait_for_completion(10'000'000);
    harvest(ignored);
  }
  // SAFETY: a buffer the kernel may still read is never returned to the pool: lend it without a
  // matching kernel_done(), so dropping the handle keeps it out of the free list for good.
  // (A send_zc buffer in flight is lent already.)
  for (Slot& s : slots_)
    if (s.in_flight && s.chunk.buffer && !zerocopy_) s.chunk.buffer.lend_to_kernel();
}

// Tops up ready_ to a chain's worth of chunks. Any error but a recoverable ENOBUFS ends the
// transfer.
void UringSendStrategy::fill_ready(std::optional<Error>& fill_error) {
  while (ready_.size() < kDepth && !reader_.exhausted()) {
    auto free = std::find_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.used; });
    if (free == slots_.end()) return;
    auto chunk = reader_.next();
    if (!chunk) {
      // ENOBUFS with buffers queued or in flight: they come back; with none, the pool is too small.
      if (chunk.error().code() != ENOBUFS || (!in_flight() && ready_.empty()))
        fill_error = std::move(chunk).error();
      return;
    }
    if (chunk->bytes.empty()) return;  // an unbounded file just ended
    *free = Slot{std::move(*chunk), 0, true, false, false, 0};
    ready_.push_back(static_cast<std::size_t>(free - slots_.begin()));
  }
}

void UringSendStrategy::submit_chain() {
  io_uring* ring = ring_.get();
  // The chain ends at its last send: a link flag on the last SQE would join the next submit.
  const std::size_t count = std::min(ready_.size(), kDepth);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t idx = ready_.front();
    Slot& s = slots_[idx];
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (sqe == nullptr) break;  // cannot happen: kRingEntries > kDepth, one chain at a time
    ready_.pop_front();
    const std::byte* p = s.chunk.bytes.data() + s.sent;
    const std::size_t n = s.chunk.bytes.size() - s.sent;
    const int flags = MSG_NOSIGNAL | MSG_WAITALL;
    if (!zerocopy_) {
      // The kernel copies from `p` while the request runs; the slot keeps it until the result.
      io_uring_prep_send(sqe, sock_, p, n, flags);
    } else {
      // SAFETY: the kernel reads `p` until this send's notification; on_notification() (or a
      // result without IORING_CQE_F_MORE) calls kernel_done() and only then may the slot go.
      if (s.chunk.buffer) s.chunk.buffer.lend_to_kernel();
      const int index = s.chunk.buffer.registered_index();
      if (fixed_ && index >= 0)
        io_uring_prep_send_zc_fixed(sqe, sock_, p, n, flags, sys::kSendZcReportUsage,
                                    static_cast<unsigned>(index));
      else
        io_uring_prep_send_zc(sqe, sock_, p, n, flags, sys::kSendZcReportUsage);
    }
    io_uring_sqe_set_data64(sqe, idx + 1);
    if (i + 1 < count) sqe->flags |= IOSQE_IO_LINK;
    s.in_chain = s.in_flight = true;
    chain_.push_back(idx);
  }
  if (chain_.empty()) return;
  chain_pending_ = chain_.size();
  if (const int rc = ring_.submit(stats_->syscalls); rc < 0) {
    error_ = Error(-rc, "io_uring_submit", route());
    // Nothing of the chain reached the kernel: take it back so the destructor has no work.
    for (std::size_t idx : chain_) {
      Slot& s = slots_[idx];
      s.in_chain = s.in_flight = false;
      if (zerocopy_ && s.chunk.buffer) s.chunk.buffer.kernel_done();
    }
    chain_.clear();
    chain_pending_ = 0;
  }
}

void UringSendStrategy::harvest(Outcome& out) {
  ring_.for_each_completion([&](io_uring_cqe& cqe) {
    const std::uint64_t data = io_uring_cqe_get_data64(&cqe);
    if (data == 0 || data > slots_.size()) return;  // the destructor's cancel
    Slot& s = slots_[data - 1];
    if (cqe.flags & IORING_CQE_F_NOTIF)
      on_notification(s, cqe);
    else
      on_result(s, cqe, out);
    maybe_free(s);
  });
}

void UringSendStrategy::on_result(Slot& s, const io_uring_cqe& cqe, Outcome& out) {
  s.in_flight = false;
  --chain_pending_;
  if (cqe.flags & IORING_CQE_F_MORE) {
    ++s.notifs;
    ++notifs_;
  } else if (zerocopy_ && s.chunk.buffer) {
    s.chunk.buffer.kernel_done();  // no notification follows: the kernel is done with it
  }
  if (cqe.res > 0) {
    const auto n = static_cast<std::size_t>(cqe.res);
    s.sent += n;
    out.bytes += n;
    stats_->bytes += n;
  } else if (cqe.res == -EAGAIN) {
    wait_socket_ = true;  // resent after the socket polls writable
  } else if (cqe.res < 0 && cqe.res != -ECANCELED && !error_) {
    error_ = Error(-cqe.res, op(), route());
  }
}

void UringSendStrategy::on_notification(Slot& s, const io_uring_cqe& cqe) {
  --s.notifs;
  --notifs_;
  ++stats_->zc_completions;
  if (static_cast<unsigned>(cqe.res) & sys::kNotifUsageZcCopied) ++stats_->zc_copied;
  // SAFETY: the kernel released this send's pages.
  if (s.chunk.buffer) s.chunk.buffer.kernel_done();
}

// The chain's results are all in: chunks not fully sent (short, cancelled, EAGAIN) go back to
// the front of ready_ in stream order.
void UringSendStrategy::finish_chain() {
  std::vector<std::size_t> unsent;
  for (std::size_t idx : chain_) {
    slots_[idx].in_chain = false;
    if (slots_[idx].sent < slots_[idx].chunk.bytes.size()) unsent.push_back(idx);
  }
  ready_.insert(ready_.begin(), unsent.begin(), unsent.end());
  chain_.clear();
  for (Slot& s : slots_) maybe_free(s);
}

void UringSendStrategy::maybe_free(Slot& s) {
  if (s.used && !s.in_chain && !s.in_flight && s.notifs == 0 && s.sent == s.chunk.bytes.size())
    s = Slot{};
}

Outcome UringSendStrategy::step(std::uint64_t budget) {
  Outcome out;
  std::optional<Error> fill_error;
  for (;;) {
    harvest(out);
    if (!chain_.empty() && chain_pending_ == 0) finish_chain();
    if (error_ && chain_.empty()) {
      out.error = std::move(error_);
      error_.reset();
      return out;
    }
    if (chain_.empty()) {
      if (ready_.empty() && reader_.exhausted() && notifs_ == 0) {
        out.done = true;
        return out;
      }
      if (out.bytes >= budget) return out;
      if (std::exchange(wait_socket_, false)) {
        out.wait = Wait{sock_, Direction::Write};
        return out;
      }
      fill_ready(fill_error);
      if (fill_error) {
        out.error = std::move(fill_error);
        return out;
      }
      if (!ready_.empty()) {
        submit_chain();
        continue;  // a send to a socket with room often completes during the submit
      }
    }
    // In flight: read the next chain's chunks while the kernel sends this one.
    fill_ready(fill_error);
    if (fill_error) {
      out.error = std::move(fill_error);
      return out;
    }
    if (io_uring_cq_ready(ring_.get()) > 0) continue;
    out.wait = Wait{ring_.fd(), Direction::Read};
    return out;
  }
}

Result<StrategyPtr> make_uring_send_strategy(const Source& src, const Sink& dst,
                                             const StrategyContext& ctx, bool zerocopy) {
  const StrategyKind kind = zerocopy ? StrategyKind::UringSendZc : StrategyKind::UringSend;
  const auto* sock = std::get_if<Socket>(&dst);
  const EndpointKind sk = kind_of(src);
  if (sock == nullptr || (sk != EndpointKind::File && sk != EndpointKind::Memory) ||
      (sk == EndpointKind::File && ctx.buffers == nullptr))
    return unsupported_pair(kind, src, dst);
  if (!allows(ctx.caps ? *ctx.caps : Capabilities::probe(), kind))
    return Error(EOPNOTSUPP, "select",
                 fmt::format("{}: not available on this kernel", to_string(kind)));
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  int rc = 0;
  sys::UringRing ring = sys::take_ring(kRingEntries, rc);
  if (rc < 0)  // disabled by sysctl or seccomp: fall back
    return Error(EOPNOTSUPP, "io_uring_queue_init",
                 fmt::format("{}: io_uring unavailable ({})", to_string(kind), errno_name(-rc)));
  return StrategyPtr(
      std::make_unique<UringSendStrategy>(src, dst, ctx, *limit, zerocopy, std::move(ring)));
}

}  // namespace

Result<StrategyPtr> make_uring_send(const Source& src, const Sink& dst,
                                    const StrategyContext& ctx) {
  return make_uring_send_strategy(src, dst, ctx, false);
}

Result<StrategyPtr> make_uring_send_zc(const Source& src, const Sink& dst,
                                       const StrategyContext& ctx) {
  return make_uring_send_strategy(src, dst, ctx, true);
}

}  // namespace zcnet::detail

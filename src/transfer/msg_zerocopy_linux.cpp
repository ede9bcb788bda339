// msg-zerocopy: File or Memory -> Socket with sendmsg(MSG_ZEROCOPY). The kernel sends straight
// from our pages and tells us on the socket's error queue when it has released them; only then may
// the pages change. The transfer is done when every byte is sent AND every notification arrived,
// so a caller may overwrite its Memory the moment the transfer returns.
//
// Waiting. Notifications make the socket report POLLERR, which poll() and epoll report whatever
// events were asked for. While the send buffer is full we wait for Write (POLLOUT or POLLERR
// wakes us). While only notifications are missing we wait for Read, not Write: a socket whose
// data is sent but not yet acknowledged is usually writable, so Write would spin for a round trip;
// Read is quiet unless the peer sends data or closes (then a step finds the error queue empty
// and waits again; bounded by the time the peer takes to acknowledge).
//
// Notification ids. The kernel numbers each MSG_ZEROCOPY sendmsg that sent bytes with a per-socket
// 32-bit counter we cannot read, and may complete them out of order (retransmits). So pool
// buffers are released per id only once the counter is known: until then every lent buffer is
// held until all of this transfer's notifications are in, at which point the last id seen tells
// us the next one. Precondition: nobody else sends with MSG_ZEROCOPY on this socket meanwhile.
//
// Failing. A send that fails while earlier sends are still unnotified does not end the transfer
// at once: the strategy keeps the error and waits, as a finished transfer does, until the kernel
// has released every lent buffer (or the socket reports an error of its own, or the caller's
// deadline ends the wait), then reports it. So a failed transfer gives its buffers back to the
// pool instead of leaving them lent for good.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>

#include "sys/zerocopy_linux.hpp"
#include "transfer/chunk_reader.hpp"
#include "transfer/progress.hpp"
#include "transfer/strategies.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::detail {

namespace {

class MsgZerocopyStrategy final : public Strategy {
 public:
  MsgZerocopyStrategy(const Source& src, const Sink& dst, const StrategyContext& ctx,
                      std::optional<std::uint64_t> limit)
      : stats_(stats_or(ctx, own_stats_)),
        reader_(src, dst, ctx, limit, stats_),
        sock_(fd_of(dst)) {}
  // A transfer that ends early (a cancel, a deadline) takes the notifications already queued, so
  // the buffers of sends the kernel has finished go back to the pool; a buffer whose send is
  // still in flight stays lent to the kernel and is never reused (the pool counts it).
  ~MsgZerocopyStrategy() override {
    if (outstanding_ > 0) (void)collect_notifications();
  }
  MsgZerocopyStrategy(const MsgZerocopyStrategy&) = delete;
  MsgZerocopyStrategy& operator=(const MsgZerocopyStrategy&) = delete;

  StrategyKind kind() const noexcept override { return StrategyKind::MsgZerocopy; }
  Outcome step(std::uint64_t budget) override;

 private:
  // A pool buffer being sent or still read by the kernel. Ownership: the strategy keeps the
  // handle until the chunk is fully sent AND `lent` notifications came back (kernel_done() each);
  // dropping the handle then puts the buffer back in the pool.
  struct Lent {
    PoolBuffer buffer;
    std::uint32_t lent = 0;
    bool sent = false;
  };
  struct PendingSend {
    std::uint32_t id = 0;   // meaningful once ids_known_
    Lent* chunk = nullptr;  // nullptr for Memory sources
  };

  Outcome start();
  Result<void> collect_notifications();
  void complete(const sys::ZerocopyRange& range);
  void complete_pending(PendingSend& p);
  void drop_finished_chunks();
  Outcome fail(int code, const char* op) const;
  std::string route() const { return reader_.route(); }

  Stats own_stats_;  // when the caller passed no stats
  Stats* stats_;
  ChunkReader reader_;
  int sock_;
  bool started_ = false;
  bool nonblocking_ = false;
  // The chunk being sent: bytes [sent_, size) of `current_` are still to go.
  std::optional<ChunkReader::Chunk> current_;
  std::size_t sent_ = 0;
  bool copy_current_ = false;      // ENOBUFS from MSG_ZEROCOPY (optmem limit): this chunk is copied
  std::uint32_t outstanding_ = 0;  // MSG_ZEROCOPY sends whose notification is still missing
  bool ids_known_ = false;
  std::uint32_t next_id_ = 0;
  std::uint32_t last_seen_id_ = 0;
  bool seen_any_id_ = false;
  bool waited_for_notifications_ = false;
  std::optional<Error> failed_;      // a send failed: reported once nothing is lent (see top)
  std::deque<Lent> chunks_;          // File source: buffers in send order
  std::deque<PendingSend> pending_;  // File source: sends in send order
};

Outcome MsgZerocopyStrategy::fail(int code, const char* op) const {
  Outcome out;
  out.error = Error(code, op, route());
  return out;
}

// Enables SO_ZEROCOPY before anything is consumed, so a socket that refuses it (AF_UNIX, an old
// kernel) falls back to the next strategy with nothing lost.
Outcome MsgZerocopyStrategy::start() {
  Outcome out;
  if (int rc = sys::enable_zerocopy(sock_); rc < 0) {
    out.handled = false;
    out.error =
        Error(-rc == ENOPROTOOPT ? EOPNOTSUPP : -rc, "setsockopt SO_ZEROCOPY", describe_fd(sock_));
    return out;
  }
  const int flags = ::fcntl(sock_, F_GETFL);
  nonblocking_ = flags >= 0 && (flags & O_NONBLOCK) != 0;
  started_ = true;
  return out;
}

Outcome MsgZerocopyStrategy::step(std::uint64_t budget) {
  if (!started_) {
    if (Outcome o = start(); !o.handled) return o;
  }
  Outcome out;
  if (failed_) {
    // The socket's own error, if it has one now, ends the wait too: its sends were dropped.
    const bool dead = outstanding_ > 0 && !collect_notifications();
    if (outstanding_ == 0 || dead) {
      out.error = std::move(failed_);
      return out;
    }
    out.wait = Wait{sock_, Direction::Read};
    waited_for_notifications_ = true;
    return out;
  }
  for (;;) {
    if (outstanding_ > 0) {
      if (auto r = collect_notifications(); !r) {
        out.error = std::move(r).error();
        return out;
      }
    }
    if (!current_ && reader_.exhausted()) {
      if (outstanding_ == 0) {
        out.done = true;
        return out;
      }
      out.wait = Wait{sock_, Direction::Read};  // only notifications are missing: see top
      waited_for_notifications_ = true;
      return out;
    }
    if (out.bytes >= budget) return out;
    if (!current_) {
      auto chunk = reader_.next();
      if (!chunk && chunk.error().code() == ENOBUFS && outstanding_ > 0) {
        // Every buffer is lent to the kernel: wait for a notification to bring one back.
        out.wait = Wait{sock_, Direction::Read};
        waited_for_notifications_ = true;
        return out;
      }
      if (!chunk) {
        out.error = std::move(chunk).error();
        return out;
      }
      if (chunk->bytes.empty()) continue;  // an unbounded file just ended
      current_ = std::move(*chunk);
      sent_ = 0;
      copy_current_ = false;
      if (current_->buffer) chunks_.push_back(Lent{std::move(current_->buffer)});
    }
    const auto rest = current_->bytes.subspan(sent_);
    const bool zerocopy = !copy_current_;
    ++stats_->syscalls;
    const long n = sys::send_zerocopy(sock_, rest, zerocopy, nonblocking_);
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      out.wait = Wait{sock_, Direction::Write};  // POLLERR wakes this too: notifications
      return out;
    }
    if (n == -ENOBUFS && zerocopy) {
      // optmem_max exhausted by notification state: copy this chunk, zero-copy the next ones.
      copy_current_ = true;
      continue;
    }
    if (n < 0 && outstanding_ > 0) {  // reported once the kernel has let go (see top)
      failed_ = fail(static_cast<int>(-n), zerocopy ? "sendmsg MSG_ZEROCOPY" : "sendmsg").error;
      out.wait = Wait{sock_, Direction::Read};
      waited_for_notifications_ = true;
      return out;
    }
    if (n < 0) return fail(static_cast<int>(-n), zerocopy ? "sendmsg MSG_ZEROCOPY" : "sendmsg");
    if (n > 0 && zerocopy) {
      ++outstanding_;
      PendingSend p{ids_known_ ? next_id_++ : 0, nullptr};
      if (!chunks_.empty()) {
        // SAFETY: from here the kernel reads this buffer until the notification covering this
        // send arrives; complete_pending() then calls kernel_done(). The handle stays in chunks_
        // until then, so the pool cannot hand the buffer out again.
        p.chunk = &chunks_.back();
        p.chunk->buffer.lend_to_kernel();
        ++p.chunk->lent;
      }
      // SAFETY (Memory source): the caller's bytes are read by the kernel until every notification
      // is in; the transfer is not done before, and the caller keeps them unchanged until done.
      if (reader_.is_file()) pending_.push_back(p);
    }
    sent_ += static_cast<std::size_t>(n);
    out.bytes += static_cast<std::uint64_t>(n);
    stats_->bytes += static_cast<std::uint64_t>(n);
    if (sent_ == current_->bytes.size()) {
      if (!chunks_.empty()) chunks_.back().sent = true;
      current_.reset();
      drop_finished_chunks();
    }
  }
}

Result<void> MsgZerocopyStrategy::collect_notifications() {
  bool got_any = false;
  while (outstanding_ > 0) {
    sys::ZerocopyRange range;
    ++stats_->syscalls;
    const int rc = sys::read_zerocopy_notification(sock_, range);
    if (rc == -ENOMSG) continue;  // an unrelated error-queue entry, consumed
    if (rc < 0) return Error(-rc, "recvmsg MSG_ERRQUEUE", route());
    if (rc == 0) break;
    got_any = true;
    complete(range);
  }
  // Woken while waiting for notifications and none came: if the socket failed (reset), say so
  // instead of waiting again. SO_ERROR is read only on this path.
  if (std::exchange(waited_for_notifications_, false) && !got_any && outstanding_ > 0) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sock_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
      return Error(err, "MSG_ZEROCOPY completion", route());
  }
  return {};
}

void MsgZerocopyStrategy::complete(const sys::ZerocopyRange& range) {
  const std::uint32_t count = std::min(range.count(), outstanding_);
  outstanding_ -= count;
  stats_->zc_completions += count;
  if (range.copied) stats_->zc_copied += count;
  // The newest id seen (ids of one transfer span far less than 2^31, so the signed difference
  // orders them across a wrap).
  if (!seen_any_id_ || static_cast<std::int32_t>(range.last - last_seen_id_) > 0)
    last_seen_id_ = range.last;
  seen_any_id_ = true;
  if (!reader_.is_file()) return;
  if (ids_known_) {
    // Usually in order (the front), but retransmits may complete a later send first.
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->id - range.first <= range.last - range.first) {
        complete_pending(*it);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  } else if (outstanding_ == 0) {
    // Everything this transfer sent is released: the next send gets the id after the last one.
    for (auto& p : pending_) complete_pending(p);
    pending_.clear();
    ids_known_ = true;
    next_id_ = last_seen_id_ + 1;
  }
  drop_finished_chunks();
}

void MsgZerocopyStrategy::complete_pending(PendingSend& p) {
  if (p.chunk == nullptr) return;
  // SAFETY: the kernel released this send's pages; the buffer may be reused once all its sends
  // are back (drop_finished_chunks).
  p.chunk->buffer.kernel_done();
  --p.chunk->lent;
}

void MsgZerocopyStrategy::drop_finished_chunks() {
  // PendingSend points into chunks_, so only the front (the oldest) is ever erased.
  while (!chunks_.empty() && chunks_.front().sent && chunks_.front().lent == 0) chunks_.pop_front();
}

}  // namespace

Result<StrategyPtr> make_msg_zerocopy(const Source& src, const Sink& dst,
                                      const StrategyContext& ctx) {
  const auto* sock = std::get_if<Socket>(&dst);
  const EndpointKind sk = kind_of(src);
  if (sock == nullptr || (sk != EndpointKind::File && sk != EndpointKind::Memory) ||
      (sk == EndpointKind::File && ctx.buffers == nullptr))
    return unsupported_pair(StrategyKind::MsgZerocopy, src, dst);
  if (ctx.caps != nullptr && !ctx.caps->msg_zerocopy)
    return Error(EOPNOTSUPP, "select", "msg-zerocopy: SO_ZEROCOPY not available on this kernel");
  auto limit = resolve_limit(src, ctx);
  if (!limit) return std::move(limit).error();
  return StrategyPtr(std::make_unique<MsgZerocopyStrategy>(src, dst, ctx, *limit));
}

}  // namespace zcnet::detail

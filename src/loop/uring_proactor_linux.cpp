// The io_uring backend: a proactor. Single-shot ops (poll, connect, read, send, send_zc, splice)
// are one SQE each, with a linked timeout SQE when they have a deadline; accept and recv are
// multishot per fd (recv into the provided-buffer ring) and their results queue per fd, bounded,
// until a task asks. SQEs are batched: everything a turn prepared goes in with the next wait, one
// io_uring_enter for many SQEs.
//
// user_data: an Op* (aligned), a Multishot* with bit 0 set, kWake, or 0 for CQEs nobody needs
// (linked timeouts, cancel requests).
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <vector>

#include "loop/backend.hpp"
#include "loop/uring_buf_ring.hpp"
#include "sys/faults.hpp"
#include "sys/uring_linux.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::detail {

namespace {

constexpr std::uint64_t kIgnore = 0;
constexpr std::uint64_t kWake = 2;
constexpr std::size_t kAcceptQueue = 128;
enum : std::uint8_t { kNone = 0, kWaiter = 1, kInFlight = 2 };

// One fd's multishot accept or recv: results the kernel produced that no task took yet.
struct Multishot {
  struct Item {
    int res;            // recv: bytes (0 = EOF) or -errno; accept: fd or -errno
    std::uint32_t bid;  // recv: provided buffer holding the bytes
  };
  int fd = -1;
  OpCode kind = OpCode::Recv;
  bool armed = false;        // a multishot SQE is live in the kernel
  bool cancel_sent = false;  // we asked it to stop (queue full or forget())
  bool starved = false;      // ended with ENOBUFS: re-armed when a buffer comes back
  bool closing = false;      // forgotten: freed at its last CQE
  std::deque<Item> queue;
  std::deque<Op*> waiters;
};

class UringProactor final : public Backend, public BufferOwner {
 public:
  UringProactor(Loop& loop, const LoopOptions& options) : loop_(loop), options_(options) {}
  ~UringProactor() override;
  Result<void> init();

  bool try_now(Op& op) override;
  void submit(Op& op) override;
  bool native_deadline(const Op& op) const noexcept override {
    return op.code != OpCode::Accept && op.code != OpCode::Recv;
  }
  void cancel(Op& op) override;
  void wait(std::optional<std::chrono::nanoseconds> timeout) override;
  void wake() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_.get(), &one, sizeof one);
  }
  void forget(int fd) override;
  void drain() override;
  LoopStats stats() const noexcept override { return stats_; }
  void give_back(std::uint32_t id) noexcept override;

 private:
  io_uring_sqe* sqe();
  void flush();
  void arm(Multishot& m);
  void arm_wake();
  void handle(std::uint64_t ud, int res, std::uint32_t flags);
  void handle_op(Op& op, int res, std::uint32_t flags);
  void handle_multishot(Multishot& m, int res, std::uint32_t flags);
  void deliver(Multishot& m, Multishot::Item item);
  void fill(Op& op, Multishot& m, Multishot::Item item);
  void release(Multishot& m, const Multishot::Item& item) noexcept;
  void request_cancel(std::uint64_t ud);
  std::size_t queue_cap(const Multishot& m) const noexcept {
    return m.kind == OpCode::Accept ? kAcceptQueue : options_.recv_queue_per_fd;
  }

  Loop& loop_;
  LoopOptions options_;
  sys::UringRing ring_;  // declared before bufs_: the buffer ring unregisters from it first
  bool has_send_zc_ = false;
  bool draining_ = false;
  bool wake_armed_ = false;
  UniqueFd wake_;
  std::unique_ptr<UringBufRing> bufs_;
  std::unordered_map<int, std::unique_ptr<Multishot>> multi_;
  std::vector<std::unique_ptr<Multishot>> closing_;
  std::deque<int> starved_;     // fds whose recv ended with ENOBUFS, oldest first
  std::uint64_t held_ = 0;      // provided buffers out of the ring (queued or lent to a task)
  std::uint64_t inflight_ = 0;  // SQEs whose last CQE has not arrived (excluding kIgnore ones)
  LoopStats stats_;
};

Result<void> UringProactor::init() {
  io_uring_params p{};
  p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = options_.uring_entries * 8;
  int rc = ring_.init(options_.uring_entries, p);
  if (rc == -EINVAL) {  // a kernel without one of the setup flags
    p = io_uring_params{};
    rc = ring_.init(options_.uring_entries, p);
  }
  if (rc < 0) return Error(-rc, "io_uring_queue_init");
  has_send_zc_ = Capabilities::probe().uring_send_zc;
  wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_) return last_error("eventfd");
  return {};
}

io_uring_sqe* UringProactor::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(ring_.get());
  if (!s) {
    flush();
    s = io_uring_get_sqe(ring_.get());
  }
  return s;  // non-null: the queue was just emptied
}

void UringProactor::flush() {
  if (io_uring_sq_ready(ring_.get()) == 0) return;
  ++stats_.syscalls;
  io_uring_submit(ring_.get());
}

void UringProactor::request_cancel(std::uint64_t ud) {
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, ud, 0);
  io_uring_sqe_set_data64(s, kIgnore);
}

void UringProactor::arm_wake() {
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_multishot(s, wake_.get(), POLLIN);
  io_uring_sqe_set_data64(s, kWake);
  wake_armed_ = true;
  ++inflight_;
}

bool UringProactor::try_now(Op& op) {
  if (op.code != OpCode::Accept && op.code != OpCode::Recv) return false;
  auto it = multi_.find(op.fd);
  if (it == multi_.end() || it->second->queue.empty()) return false;
  Multishot& m = *it->second;
  Multishot::Item item = m.queue.front();
  m.queue.pop_front();
  fill(op, m, item);
  // Paused because the queue was full: resume now there is room.
  if (!m.armed && !m.cancel_sent && !m.starved && item.res > 0 && m.queue.size() < queue_cap(m))
    arm(m);
  return true;
}

void UringProactor::fill(Op& op, Multishot& m, Multishot::Item item) {
  if (m.kind == OpCode::Accept && item.res >= 0) {
    if (int err = sys::faults::inject_fd(sys::faults::FdCall::Accept)) {
      m.queue.push_front(item);  // waits for the next accept, as in the kernel's backlog
      op.res = -err;
      return;
    }
  }
  op.res = item.res;
  if (m.kind == OpCode::Recv && item.res > 0) {
    op.owner = this;
    op.buf_id = item.bid;
    op.buf = bufs_->data(item.bid);
  }
}

void UringProactor::arm(Multishot& m) {
  if (draining_ || m.closing) return;
  io_uring_sqe* s = sqe();
  if (m.kind == OpCode::Accept) {
    io_uring_prep_multishot_accept(s, m.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } else {
    io_uring_prep_recv_multishot(s, m.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = UringBufRing::kGroup;
  }
  io_uring_sqe_set_data64(s, reinterpret_cast<std::uint64_t>(&m) | 1);
  m.armed = true;
  ++inflight_;
}

void UringProactor::submit(Op& op) {
  if (op.code == OpCode::Accept || op.code == OpCode::Recv) {
    if (op.code == OpCode::Recv && !bufs_) {
      bufs_ = std::make_unique<UringBufRing>();
      if (auto r = bufs_->setup(ring_.get(), options_.recv_buffers, options_.recv_buffer_bytes);
          !r) {
        bufs_.reset();
        op.res = -r.error().code();
        loop_.complete(op);
        return;
      }
    }
    auto& slot = multi_[op.fd];
    if (!slot) {
      slot = std::make_unique<Multishot>();
      slot->fd = op.fd;
      slot->kind = op.code;
    }
    slot->waiters.push_back(&op);
    op.list = kWaiter;
    if (!slot->armed && !slot->starved) arm(*slot);
    return;
  }
  // One SQE, plus a linked timeout when the op has a deadline: make sure both fit.
  if (io_uring_sq_space_left(ring_.get()) < 2) flush();
  io_uring_sqe* s = sqe();
  op.cqes_pending = 1;
  switch (op.code) {
    case OpCode::Poll:
      io_uring_prep_poll_add(s, op.fd, op.dir == Direction::Read ? POLLIN : POLLOUT);
      break;
    case OpCode::Connect:
      io_uring_prep_connect(s, op.fd, static_cast<const sockaddr*>(op.addr), op.addrlen);
      break;
    case OpCode::Read:
      io_uring_prep_read(s, op.fd, op.buf, static_cast<unsigned>(op.len), -1);
      break;
    case OpCode::SendZc:
      if (has_send_zc_ && !op.not_socket) {
        io_uring_prep_send_zc(s, op.fd, op.buf, op.len, MSG_NOSIGNAL, 0);
        break;
      }
      [[fallthrough]];
    case OpCode::Write:
      if (op.not_socket)
        io_uring_prep_write(s, op.fd, op.buf, static_cast<unsigned>(op.len), -1);
      else
        io_uring_prep_send(s, op.fd, op.buf, op.len, MSG_NOSIGNAL);
      break;
    case OpCode::Splice:
      io_uring_prep_splice(s, op.fd, -1, op.fd_out, -1, static_cast<unsigned>(op.len),
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      break;
    default:
      io_uring_prep_nop(s);
      op.res = -EINVAL;
  }
  io_uring_sqe_set_data(s, &op);
  op.list = kInFlight;
  ++inflight_;
  if (op.deadline != Clock::time_point::max()) {
    s->flags |= IOSQE_IO_LINK;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(op.deadline.time_since_epoch());
    op.kernel_ts[0] = ns.count() / 1'000'000'000;
    op.kernel_ts[1] = ns.count() % 1'000'000'000;
    // SAFETY: the kernel reads the timespec when the SQE is submitted; op outlives that (it
    // lives until its own CQE). steady_clock is CLOCK_MONOTONIC, the ABS timeout clock.
    io_uring_sqe* t = sqe();
    io_uring_prep_link_timeout(t, reinterpret_cast<__kernel_timespec*>(op.kernel_ts),
                               IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(t, kIgnore);
  }
}

void UringProactor::cancel(Op& op) {
  if (op.list == kWaiter) {
    auto it = multi_.find(op.fd);
    if (it != multi_.end()) {
      auto& w = it->second->waiters;
      for (auto i = w.begin(); i != w.end(); ++i) {
        if (*i == &op) {
          w.erase(i);
          break;
        }
      }
    }
    op.list = kNone;
    op.res = -ECANCELED;
    loop_.complete(op);
  } else if (op.list == kInFlight) {
    // The op completes (with -ECANCELED, or its result if it won the race) on its own CQE: the
    // kernel may use its buffer until then.
    request_cancel(reinterpret_cast<std::uint64_t>(&op));
  }
}

void UringProactor::forget(int fd) {
  auto it = multi_.find(fd);
  if (it != multi_.end()) {
    std::unique_ptr<Multishot> m = std::move(it->second);
    multi_.erase(it);
    for (Op* w : m->waiters) {
      w->list = kNone;
      w->cancel_requested = true;
      w->res = -ECANCELED;
      loop_.complete(*w);
    }
    m->waiters.clear();
    for (auto& item : m->queue) release(*m, item);
    m->queue.clear();
    if (m->armed) {
      m->closing = true;
      request_cancel(reinterpret_cast<std::uint64_t>(m.get()) | 1);
      closing_.push_back(std::move(m));  // the kernel still names it in CQEs
    }
  }
  // Single-shot ops on fd (polls, sends) end too; each completes on its own CQE.
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(s, kIgnore);
}

void UringProactor::release(Multishot& m, const Multishot::Item& item) noexcept {
  if (m.kind == OpCode::Recv && item.res > 0)
    give_back(item.bid);
  else if (m.kind == OpCode::Accept && item.res >= 0)
    UniqueFd closer(item.res);
}

void UringProactor::give_back(std::uint32_t id) noexcept {
  bufs_->recycle(id);
  --held_;
  // Wake the oldest starved fd: it has a buffer to receive into now.
  while (!starved_.empty() && !draining_) {
    int fd = starved_.front();
    starved_.pop_front();
    auto it = multi_.find(fd);
    if (it == multi_.end() || !it->second->starved) continue;
    Multishot& m = *it->second;
    m.starved = false;
    if (!m.armed) arm(m);
    break;
  }
}

void UringProactor::deliver(Multishot& m, Multishot::Item item) {
  if (!m.waiters.empty()) {
    Op* op = m.waiters.front();
    m.waiters.pop_front();
    op->list = kNone;
    fill(*op, m, item);
    loop_.complete(*op);
    return;
  }
  m.queue.push_back(item);
  // Backpressure: nobody is taking results; stop the kernel producing more for this fd.
  if (m.queue.size() >= queue_cap(m) && m.armed && !m.cancel_sent) {
    m.cancel_sent = true;
    request_cancel(reinterpret_cast<std::uint64_t>(&m) | 1);
  }
}

void UringProactor::handle_multishot(Multishot& m, int res, std::uint32_t flags) {
  bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    m.armed = false;
    --inflight_;
  }
  Multishot::Item item{res, 0};
  if (m.kind == OpCode::Recv && res > 0) {
    item.bid = flags >> IORING_CQE_BUFFER_SHIFT;
    ++held_;
  }
  if (m.closing || draining_) {
    release(m, item);
    if (!more && m.closing) {
      for (auto i = closing_.begin(); i != closing_.end(); ++i) {
        if (i->get() == &m) {
          closing_.erase(i);  // destroys m
          break;
        }
      }
    }
    return;
  }
  if (!more) {
    bool cancelled = m.cancel_sent;
    m.cancel_sent = false;
    if (res == -ENOBUFS) {
      // Buffers may have come back between the kernel running dry and this CQE: then nobody
      // would wake a starved fd, so re-arm at once.
      if (held_ < bufs_->count()) {
        arm(m);
        return;
      }
      m.starved = true;
      starved_.push_back(m.fd);
      return;
    }
    if (res == -ECANCELED && cancelled) {
      if (m.queue.empty() && !m.waiters.empty()) arm(m);
      return;
    }
  }
  deliver(m, item);
  if (!more && res > 0 && !m.waiters.empty() && m.queue.empty()) arm(m);
}

void UringProactor::handle_op(Op& op, int res, std::uint32_t flags) {
  if (op.code == OpCode::SendZc && (flags & IORING_CQE_F_NOTIF)) {
    // The kernel released the buffer: only now may the task reuse it (docs/architecture.md,
    // invariant 3).
    --op.cqes_pending;
  } else {
    if ((op.code == OpCode::Write || op.code == OpCode::SendZc) && res == -ENOTSOCK &&
        !op.not_socket) {
      op.not_socket = true;  // a pipe or file: write() it instead
      --inflight_;
      submit(op);
      return;
    }
    op.res = res;
    --op.cqes_pending;
    if (flags & IORING_CQE_F_MORE) ++op.cqes_pending;  // send_zc: a notification follows
  }
  if (op.cqes_pending > 0) return;
  --inflight_;
  op.list = kNone;
  loop_.complete(op);
}

void UringProactor::handle(std::uint64_t ud, int res, std::uint32_t flags) {
  if (ud == kIgnore) return;
  if (ud == kWake) {
    std::uint64_t v;
    ++stats_.syscalls;
    [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof v);
    if (!(flags & IORING_CQE_F_MORE)) {
      wake_armed_ = false;
      --inflight_;
    }
    return;
  }
  if (ud & 1) {
    handle_multishot(*reinterpret_cast<Multishot*>(ud & ~std::uint64_t{1}), res, flags);
    return;
  }
  handle_op(*reinterpret_cast<Op*>(ud), res, flags);
}

void UringProactor::wait(std::optional<std::chrono::nanoseconds> timeout) {
  if (!wake_armed_ && !draining_) arm_wake();
  if (timeout && timeout->count() == 0) {
    flush();
  } else {
    __kernel_timespec ts{};
    if (timeout) {
      ts.tv_sec = timeout->count() / 1'000'000'000;
      ts.tv_nsec = timeout->count() % 1'000'000'000;
    }
    io_uring_cqe* cqe = nullptr;
    ++stats_.syscalls;
    ++stats_.waits;
    io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, timeout ? &ts : nullptr, nullptr);
  }
  // Copy the CQEs out and release the slots first: handlers may submit, and a full CQ ring
  // would make the kernel queue completions on its overflow list.
  struct Cqe {
    std::uint64_t ud;
    int res;
    std::uint32_t flags;
  };
  Cqe batch[256];
  for (;;) {
    unsigned n = 0, head;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      batch[n++] = {cqe->user_data, cqe->res, cqe->flags};
      if (n == 256) break;
    }
    if (n == 0) break;
    io_uring_cq_advance(ring_.get(), n);
    for (unsigned i = 0; i < n; ++i) handle(batch[i].ud, batch[i].res, batch[i].flags);
    if (n < 256) break;
  }
}

void UringProactor::drain() {
  if (!ring_ || draining_) return;
  draining_ = true;
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(s, kIgnore);
  // Bounded: a kernel that never answers a cancel must not hang the process at exit.
  auto give_up = Clock::now() + std::chrono::seconds(5);
  while (inflight_ > 0 && Clock::now() < give_up) wait(std::chrono::milliseconds(50));
}

UringProactor::~UringProactor() {
  if (!draining_) drain();
  for (auto& [fd, m] : multi_) {
    for (auto& item : m->queue) release(*m, item);
    m->queue.clear();
  }
  multi_.clear();
  closing_.clear();
  bufs_.reset();  // unregisters from the ring, so before the ring goes
}

}  // namespace

Result<std::unique_ptr<Backend>> make_uring_proactor(Loop& loop, const LoopOptions& options) {
  auto p = std::make_unique<UringProactor>(loop, options);
  if (auto r = p->init(); !r) return std::move(r).error();
  std::unique_ptr<Backend> b = std::move(p);
  return b;
}

}  // namespace zcnet::detail

// The reactor half shared by the epoll and poll() backends: per-fd wait lists, the nonblocking
// syscalls each operation makes, and the recv() buffer pool.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "loop/reactor.hpp"
#include "sys/faults.hpp"
#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::detail {

std::int64_t RecvPool::take() {
  if (!free_.empty()) {
    std::uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  if (buffers_.size() >= count_) return -1;
  // Grows one buffer at a time up to the cap: idle loops hold no recv memory.
  buffers_.push_back(std::make_unique<std::byte[]>(bytes_));
  free_.reserve(buffers_.size());  // so give_back() never allocates
  return static_cast<std::int64_t>(buffers_.size() - 1);
}

void RecvPool::give_back(std::uint32_t id) noexcept {
  free_.push_back(id);  // capacity reserved in take(): never throws in practice
  if (on_return_) on_return_(on_return_ctx_);
}

Reactor::Reactor(Loop& loop, const LoopOptions& options)
    : loop_(loop), recv_pool_(options.recv_buffers, options.recv_buffer_bytes) {
  recv_pool_.set_on_return(&Reactor::on_buffer_returned, this);
}

Reactor::FdState* Reactor::state(int fd) {
  if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 64);
  return &fds_[fd];
}

void Reactor::push(OpList& l, Op& op, std::uint8_t tag) noexcept {
  op.list = tag;
  op.next = nullptr;
  op.prev = l.tail;
  if (l.tail)
    l.tail->next = &op;
  else
    l.head = &op;
  l.tail = &op;
}

Reactor::OpList* Reactor::list_of(Op& op) noexcept {
  if (op.list == kStarved) return &starved_;
  FdState* st = find(op.fd);
  if (!st || op.list == kNone) return nullptr;
  return &st->waiting[op.list == kRead ? 0 : 1];
}

void Reactor::unlink(Op& op) noexcept {
  OpList* l = list_of(op);
  if (!l) return;
  if (op.prev)
    op.prev->next = op.next;
  else
    l->head = op.next;
  if (op.next)
    op.next->prev = op.prev;
  else
    l->tail = op.prev;
  op.prev = op.next = nullptr;
  op.list = kNone;
}

namespace {

// A fault made up for one of the reactor's own calls (sys/faults.hpp; never EAGAIN, which the
// reactor would wait on itself): sets errno and returns true when the call is not to be made.
bool faulted(sys::Syscall call, std::size_t& len) noexcept {
  const sys::faults::Injected f = sys::faults::inject(call, len, {});
  len = f.len;
  if (f.err == 0) return false;
  errno = f.err;
  return true;
}

}  // namespace

int Reactor::perform(Op& op) {
  for (;;) {
    ++stats_.syscalls;
    ssize_t r = -1;
    std::size_t len = op.len;
    switch (op.code) {
      case OpCode::Accept: {
        if (int err = sys::faults::inject_fd(sys::faults::FdCall::Accept)) return -err;
        int fd = ::accept4(op.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
          // A new fd may reuse the number of one closed without forget(): drop stale state.
          if (FdState* st = find(fd); st && st->waiting[0].empty() && st->waiting[1].empty())
            *st = FdState{};
          return fd;
        }
        if (errno == ECONNABORTED) continue;
        break;
      }
      case OpCode::Connect:
        if (!op.started) {
          op.started = true;
          if (::connect(op.fd, static_cast<const sockaddr*>(op.addr), op.addrlen) == 0) return 0;
          if (errno == EINPROGRESS) return -EAGAIN;
        } else {
          int err = 0;
          socklen_t err_len = sizeof err;
          if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) break;
          if (err != 0) return -err;
          sockaddr_storage peer{};
          socklen_t plen = sizeof peer;
          ++stats_.syscalls;
          if (::getpeername(op.fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0) return 0;
          if (errno == ENOTCONN) return -EAGAIN;  // woken before the handshake ended
        }
        break;
      case OpCode::Read: {
        const sys::SyscallTimer timer(sys::Syscall::Read);
        if (!faulted(sys::Syscall::Read, len)) r = ::read(op.fd, op.buf, len);
        break;
      }
      case OpCode::Write:
      case OpCode::SendZc:
        if (!op.not_socket) {
          const sys::SyscallTimer timer(sys::Syscall::Send);
          if (faulted(sys::Syscall::Send, len)) break;
          r = ::send(op.fd, op.buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (r < 0 && errno == ENOTSOCK) {
            op.not_socket = true;
            continue;
          }
        } else {
          const sys::SyscallTimer timer(sys::Syscall::Write);
          if (!faulted(sys::Syscall::Write, len)) r = ::write(op.fd, op.buf, len);
        }
        break;
      case OpCode::Recv: {
        std::int64_t id = recv_pool_.take();
        if (id < 0) {
          --stats_.syscalls;
          op.started = true;  // starved: wait for a buffer
          return -EAGAIN;
        }
        auto bid = static_cast<std::uint32_t>(id);
        {
          const sys::SyscallTimer timer(sys::Syscall::Read);
          len = recv_pool_.bytes();
          if (!faulted(sys::Syscall::Recv, len)) r = ::read(op.fd, recv_pool_.data(bid), len);
        }
        if (r > 0) {
          op.owner = &recv_pool_;
          op.buf_id = bid;
          op.buf = recv_pool_.data(bid);
          return static_cast<int>(r);
        }
        int saved = errno;
        recv_pool_.set_on_return(nullptr, nullptr);  // quiet return: no retry storm from here
        recv_pool_.give_back(bid);
        recv_pool_.set_on_return(&Reactor::on_buffer_returned, this);
        errno = saved;
        break;
      }
      case OpCode::Splice:
        r = splice_now(op.fd, op.fd_out, op.len);
        break;
      default:
        return -EINVAL;
    }
    if (r >= 0) return static_cast<int>(r);
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

bool Reactor::try_now(Op& op) {
  if (op.code == OpCode::Splice) {  // never waits: EAGAIN is the caller's to act on
    op.res = perform(op);
    return true;
  }
  Direction dir = wait_direction(op);
  if (op.code == OpCode::Poll) {
    if (sys::faults::take_injected_eagain(op.fd)) {  // ready: its EAGAIN was made up
      op.res = 0;
      return true;
    }
    FdState* st = find(op.fd);
    if (!st) return false;
    if (dir == Direction::Read && st->read_closed) {
      op.res = 0;
      return true;
    }
    if (!st->ready[static_cast<int>(dir)]) return false;
    st->ready[static_cast<int>(dir)] = false;
    op.res = 0;
    return true;
  }
  int r = perform(op);
  if (r == -EAGAIN) {
    if (FdState* st = find(op.fd)) st->ready[static_cast<int>(dir)] = false;
    return false;
  }
  op.res = r;
  return true;
}

void Reactor::submit(Op& op) {
  if (op.code == OpCode::Recv && op.started) {
    op.started = false;
    push(starved_, op, kStarved);
    return;
  }
  if (op.fd < 0) {
    op.res = -EBADF;
    loop_.complete(op);
    return;
  }
  FdState* st = state(op.fd);
  if (!st->watched) watch(op.fd, *st);
  Direction dir = wait_direction(op);
  push(st->waiting[static_cast<int>(dir)], op, dir == Direction::Read ? kRead : kWrite);
}

void Reactor::cancel(Op& op) {
  if (op.list == kNone) return;  // already completing
  unlink(op);
  op.res = -ECANCELED;
  loop_.complete(op);
}

void Reactor::forget(int fd) {
  FdState* st = find(fd);
  if (!st) return;
  for (auto& l : st->waiting) {
    while (Op* op = l.head) {
      unlink(*op);
      op->cancel_requested = true;
      op->res = -ECANCELED;
      loop_.complete(*op);
    }
  }
  for (Op* op = starved_.head; op;) {
    Op* next = op->next;
    if (op->fd == fd) {
      unlink(*op);
      op->cancel_requested = true;
      op->res = -ECANCELED;
      loop_.complete(*op);
    }
    op = next;
  }
  if (st->watched) unwatch(fd, *st);
  *st = FdState{};
}

void Reactor::release_if_idle(int fd) {
  FdState* st = find(fd);
  if (!st || !st->waiting[0].empty() || !st->waiting[1].empty()) return;
  for (Op* op = starved_.head; op; op = op->next)
    if (op->fd == fd) return;
  if (st->watched) unwatch(fd, *st);
  *st = FdState{};
}

void Reactor::run_list(int fd, Direction dir) {
  FdState& st = fds_[fd];
  OpList& l = st.waiting[static_cast<int>(dir)];
  if (l.empty()) {
    st.ready[static_cast<int>(dir)] = true;
    return;
  }
  while (Op* op = l.head) {
    if (op->code == OpCode::Poll) {
      unlink(*op);
      op->res = 0;
      loop_.complete(*op);
      continue;
    }
    int r = perform(*op);
    if (r == -EAGAIN && op->code == OpCode::Recv && op->started) {
      op->started = false;
      unlink(*op);
      push(starved_, *op, kStarved);
      continue;
    }
    if (r == -EAGAIN) return;  // drained: the next edge brings us back
    unlink(*op);
    op->res = r;
    loop_.complete(*op);
  }
}

void Reactor::on_ready(int fd, bool readable, bool writable, bool read_closed) {
  FdState* st = find(fd);
  if (!st || !st->watched) return;
  if (read_closed) st->read_closed = true;
  if (readable) run_list(fd, Direction::Read);
  if (writable) run_list(fd, Direction::Write);
}

// A recv() buffer came back: give the oldest starved Recv its turn (it retries its read now, and
// waits on its fd again if there is nothing to read).
void Reactor::on_buffer_returned(void* self) {
  auto& r = *static_cast<Reactor*>(self);
  Op* op = r.starved_.head;
  if (!op) return;
  r.unlink(*op);
  if (r.try_now(*op)) {
    r.loop_.complete(*op);
    return;
  }
  r.submit(*op);
}

}  // namespace zcnet::detail

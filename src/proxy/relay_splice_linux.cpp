// The splice path of a flow: socket -> leased pipe -> socket, and the mirror's pipe (filled by tee
// on the splice path, by write on the copy path, emptied into the mirror by splice).
//
// The EAGAIN ambiguity (HAProxy's raw_sock.c; see also transfer/splice_linux.cpp): splice into a
// pipe fails with EAGAIN both when the socket is empty and when the pipe is full. Here the pipe is
// drained completely before it is filled again, so a fill's EAGAIN always means "socket empty"
// (wait for readable, pipe back to the pool) and a drain's EAGAIN always "sink full" (wait for
// writable, the pipe kept: it holds bytes, and a pipe holding bytes is never pooled).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "proxy/relay.hpp"
#include "sys/sigpipe_posix.hpp"
#include "sys/splice_linux.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::proxy {

bool splice_available() noexcept {
  static const bool ok = allows(Capabilities::probe(), StrategyKind::Splice);
  return ok;
}

BackendKind Proxy::preferred_backend() noexcept {
  return std::getenv("ZCNET_BACKEND") ? BackendKind::Auto : BackendKind::Epoll;
}

namespace {

sys::IoResult io_result(const Result<std::size_t>& n) noexcept {
  return n ? sys::IoResult{*n, 0} : sys::IoResult{0, n.error().code()};
}

}  // namespace

Task<void> pump_splice(Worker& w, Flow& f, const CancelToken& token) {
  Loop& loop = w.loop();
  const IoOptions io(token);  // named: no temporaries inside co_await (loop.hpp)
  const std::uint64_t budget = w.options().step_budget;
  PipeLease pipe;
  std::uint64_t burst = 0;  // bytes since the last yield
  std::uint64_t woken = 0;  // bytes since the source was last found empty
  bool bulk = false;        // the last wake moved more than a probe: splice from the start
  for (;;) {
    if (!pipe && !bulk) {
      const Probe p = co_await probe(w, f, io);
      if (p == Probe::Ended) co_return;
      if (p == Probe::Idle) {
        auto ready = co_await loop.readable(f.from, io);
        if (!waited(f, ready)) co_return;
        continue;
      }
      woken = Worker::kScratchBytes;  // Bulk: the scratch buffer filled, the rest is spliced
    }
    if (!pipe) {
      auto leased = w.pipes().acquire();
      if (!leased) {  // every pipe in use (or none can be made): this burst is copied
        w.metrics().pipe_fallbacks.add();
        if (!co_await copy_burst(w, f, io, budget)) co_return;
        continue;
      }
      pipe = std::move(*leased);
    }
    // Fill. The pipe is empty here, so EAGAIN can only mean the socket has nothing.
    sys::IoResult r;
    if (f.uring) {
      auto n = co_await loop.splice(f.from, pipe.write_fd(), pipe.capacity(), io);
      r = io_result(n);
    } else {
      r = sys::splice(f.from, nullptr, pipe.write_fd(), nullptr, pipe.capacity(),
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    }
    if (r.would_block()) {
      pipe = PipeLease{};  // empty: back to the pool while the source is idle
      burst = 0;
      bulk = woken > Worker::kScratchBytes;  // a large wake: the next one likely is too
      woken = 0;
      auto ready = co_await loop.readable(f.from, io);
      if (!waited(f, ready)) co_return;
      continue;
    }
    if (!r.ok()) {
      f.end = end_for(r.err, true);
      f.error = r.err;
      co_return;
    }
    if (r.n == 0) {
      f.end = End::Eof;
      co_return;
    }
    pipe.filled(r.n);
    if (f.mirror) f.mirror->tee(pipe.read_fd(), r.n);
    // Drain. The pipe holds bytes, so EAGAIN can only mean the sink is full.
    while (pipe.buffered() > 0) {
      sys::IoResult d;
      if (f.uring) {
        auto n = co_await loop.splice(pipe.read_fd(), f.to, pipe.buffered(), io);
        d = io_result(n);
      } else {
        sys::SigpipeBlock no_sigpipe;  // splice has no MSG_NOSIGNAL
        d = sys::splice(pipe.read_fd(), nullptr, f.to, nullptr, pipe.buffered(),
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      }
      if (d.would_block()) {
        if (f.mirror) f.mirror->flush();
        auto ready = co_await loop.writable(f.to, io);
        if (!waited(f, ready)) co_return;  // the lease closes the pipe: it still holds bytes
        continue;
      }
      if (!d.ok() || d.n == 0) {
        f.end = d.ok() ? End::SinkGone : end_for(d.err, false);  // ECANCELED: io_uring's wait
        f.error = d.ok() ? EIO : d.err;
        co_return;
      }
      pipe.drained(d.n);
      account(f, f.uring ? PathSlot::UringSplice : PathSlot::Splice, d.n);
      burst += d.n;
      woken += d.n;
    }
    if (f.mirror) f.mirror->flush();
    if (burst >= budget) {  // a busy flow yields so other connections get their turn
      burst = 0;
      (void)co_await loop.yield();
    }
  }
}

void Mirror::tee(int pipe_read_fd, std::size_t n) {
  if (!ready()) return drop(n);
  flush();
  if (!pending_) {
    auto leased = w_.pipes().acquire();
    if (!leased) return drop(n);
    pending_ = std::move(*leased);
  }
  if (pending_.buffered() + n > pending_.capacity()) return cut(n);  // the mirror is behind
  const sys::IoResult t = sys::tee(pipe_read_fd, pending_.write_fd(), n, SPLICE_F_NONBLOCK);
  if (!t.ok() || t.n < n) return cut(n);  // a partial copy would leave a gap: start over
  pending_.filled(t.n);
  flush();
}

std::size_t Mirror::backlog() const noexcept {
  return pending_ ? pending_.buffered() : 0;
}

void Mirror::discard_backlog() noexcept {
  pending_ = PipeLease{};  // holding data: the lease closes the pipe instead of pooling it
}

bool Mirror::hold(std::span<const std::byte> bytes) {
  if (!pending_) {
    auto leased = w_.pipes().acquire();
    if (!leased) return false;
    pending_ = std::move(*leased);
  }
  if (pending_.buffered() + bytes.size() > pending_.capacity()) return false;
  ssize_t n = 0;
  do n = ::write(pending_.write_fd(), bytes.data(), bytes.size());
  while (n < 0 && errno == EINTR);
  if (n > 0) pending_.filled(static_cast<std::size_t>(n));
  if (n != static_cast<ssize_t>(bytes.size())) {
    // A partial write would leave a gap; what did go in is dropped with the rest by the cut.
    return false;
  }
  return true;
}

void Mirror::flush() {
  if (!pending_) return;
  if (target_.file) {
    const MirrorTarget& t = target_;
    std::uint64_t off = t.end.fetch_add(pending_.buffered());
    while (pending_.buffered() > 0) {
      const sys::IoResult r = sys::splice(pending_.read_fd(), nullptr, t.fd.get(), &off,
                                          pending_.buffered(), SPLICE_F_MOVE);
      if (!r.ok() || r.n == 0) return cut(0);
      pending_.drained(r.n);
      w_.metrics().mirror_sent.add(r.n);
    }
    pending_ = PipeLease{};
    return;
  }
  while (sock_ && pending_.buffered() > 0) {
    sys::IoResult r;
    {
      sys::SigpipeBlock no_sigpipe;
      r = sys::splice(pending_.read_fd(), nullptr, sock_.get(), nullptr, pending_.buffered(),
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    }
    if (r.would_block()) return;  // the mirror takes the rest later, or is cut when behind
    if (!r.ok() || r.n == 0) return cut(0);
    pending_.drained(r.n);
    w_.metrics().mirror_sent.add(r.n);
  }
  if (pending_.buffered() == 0) pending_ = PipeLease{};  // empty: an idle mirror holds no pipe
}

}  // namespace zcnet::proxy

// The parts of a flow both builds share: the copy path, accounting, the mirror's connection
// handling and its copy-path writes. The splice path is relay_splice_linux.cpp.
#include "proxy/relay.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace zcnet::proxy {

namespace {
constexpr std::size_t kCopyChunk = 64 * 1024;
}  // namespace

Task<void> pump_splice(Worker& w, Flow& f, const CancelToken& token);  // relay_splice_*.cpp

End end_for(int err, bool reading) noexcept {
  if (err == ECANCELED || err == ETIMEDOUT) return End::Cancelled;
  return reading ? End::Reset : End::SinkGone;
}

bool waited(Flow& f, const Result<void>& ready) noexcept {
  if (ready) return true;
  f.end = End::Cancelled;
  f.error = ready.error().code();
  return false;
}

void account(Flow& f, PathSlot path, std::uint64_t n) noexcept {
  if (n == 0) return;
  (path == PathSlot::Copy ? f.copied : f.spliced) += n;
  if (f.conn) f.conn->moved += n;
  if (f.upstream) f.upstream->add_bytes(f.way, path, n);
}

Task<bool> copy_burst(Worker& w, Flow& f, const IoOptions& io, std::uint64_t budget) {
  Loop& loop = w.loop();
  for (;;) {
    // Read first and wait only on EAGAIN: with edge-triggered readiness, bytes already queued
    // bring no new edge. The buffer goes back before the wait, so an idle flow holds none.
    std::uint64_t moved = 0;
    bool empty = false;
    {
      auto buf = w.buffers().acquire(kCopyChunk);
      if (!buf) {
        f.end = End::Reset;
        f.error = buf.error().code();
        co_return false;
      }
      const std::span<std::byte> room(buf->data(), std::min(buf->capacity(), kCopyChunk));
      while (moved < budget) {
        const ssize_t n = ::recv(f.from, room.data(), room.size(), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          empty = true;
          break;
        }
        if (n < 0) {
          f.end = End::Reset;
          f.error = errno;
          co_return false;
        }
        if (n == 0) {
          f.end = End::Eof;
          co_return false;
        }
        const auto bytes = std::span<const std::byte>(room.data(), static_cast<std::size_t>(n));
        if (f.mirror) f.mirror->copy(bytes);
        auto wrote = co_await loop.write_all(f.to, bytes, io);
        if (!wrote) {
          f.end = end_for(wrote.error().code(), false);
          f.error = wrote.error().code();
          co_return false;
        }
        account(f, PathSlot::Copy, static_cast<std::uint64_t>(n));
        moved += static_cast<std::uint64_t>(n);
      }
    }
    if (!empty || moved > 0) co_return true;
    auto ready = co_await loop.readable(f.from, io);
    if (!waited(f, ready)) co_return false;
  }
}

Task<Probe> probe(Worker& w, Flow& f, const IoOptions& io) {
  const std::span<std::byte> room = w.scratch();
  for (;;) {
    const ssize_t n = ::recv(f.from, room.data(), room.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) co_return Probe::Idle;
    if (n < 0) {
      f.end = End::Reset;
      f.error = errno;
      co_return Probe::Ended;
    }
    if (n == 0) {
      f.end = End::Eof;
      co_return Probe::Ended;
    }
    const auto got = static_cast<std::size_t>(n);
    std::span<const std::byte> bytes = room.first(got);
    if (f.mirror) f.mirror->copy(bytes);
    ssize_t sent = 0;
    do sent = ::send(f.to, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      f.end = End::SinkGone;
      f.error = errno;
      co_return Probe::Ended;
    }
    bytes = bytes.subspan(sent > 0 ? static_cast<std::size_t>(sent) : 0);
    if (!bytes.empty()) {
      // The sink is full: the rest leaves the shared scratch buffer before this flow waits.
      auto held = w.buffers().acquire(bytes.size());
      if (!held) {
        f.end = End::Reset;
        f.error = held.error().code();
        co_return Probe::Ended;
      }
      std::memcpy(held->data(), bytes.data(), bytes.size());
      const std::span<const std::byte> rest(held->data(), bytes.size());
      auto wrote = co_await w.loop().write_all(f.to, rest, io);
      if (!wrote) {
        f.end = end_for(wrote.error().code(), false);
        f.error = wrote.error().code();
        co_return Probe::Ended;
      }
    }
    account(f, PathSlot::Copy, got);
    if (got == room.size()) co_return Probe::Bulk;
    // A short read of a TCP socket took everything queued: bytes arriving later bring a new
    // readiness edge, and a FIN read along with these bytes leaves the socket readable for good
    // (Loop::readable), so no read to EAGAIN is needed before waiting.
    co_return Probe::Idle;
  }
}

Task<void> pump(Worker& w, Flow& f, bool splice, const CancelToken& token) {
  if (splice) {
    co_await pump_splice(w, f, token);
    co_return;
  }
  const IoOptions io(token);  // named: no temporaries inside co_await (loop.hpp)
  const std::uint64_t budget = w.options().step_budget;
  for (;;) {
    const Probe p = co_await probe(w, f, io);
    if (p == Probe::Ended) co_return;
    if (p == Probe::Idle) {
      auto ready = co_await w.loop().readable(f.from, io);
      if (!waited(f, ready)) co_return;
      continue;
    }
    const bool more = co_await copy_burst(w, f, io, budget);  // Bulk: a pool buffer's worth
    if (!more) co_return;
    (void)co_await w.loop().yield();  // other connections get their turn
  }
}

// ---- Mirror: connection handling and the copy path ----

Mirror::~Mirror() {
  if (sock_) w_.loop().close(std::move(sock_));
}

void Mirror::drop(std::uint64_t n) {
  if (n) w_.metrics().mirror_dropped.add(n);
}

void Mirror::cut(std::uint64_t dropped_now) {
  drop(dropped_now + backlog());
  discard_backlog();
  if (sock_) {
    w_.loop().close(std::move(sock_));
    w_.metrics().mirror_cuts.add();
  }
  retry_at_ = Clock::now() + target_.reconnect_after;
}

bool Mirror::ready() {
  if (target_.file) return target_.fd.get() >= 0;
  if (sock_) return true;
  const auto now = Clock::now();
  if (now < retry_at_) return false;
  const Address& a = target_.address;
  UniqueFd s(::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) {
    retry_at_ = now + target_.reconnect_after;
    return false;
  }
  const int one = 1;
  (void)::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(s.get(), a.sa(), a.len) != 0 && errno != EINPROGRESS) {
    retry_at_ = now + target_.reconnect_after;
    return false;
  }
  sock_ = std::move(s);  // bytes sent while it connects get EAGAIN: dropped like a slow mirror
  return true;
}

void Mirror::copy(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (!ready()) return drop(bytes.size());
  if (target_.file) {
    const MirrorTarget& t = target_;
    std::uint64_t off = t.end.fetch_add(bytes.size());
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(t.fd.get(), bytes.data() + done, bytes.size() - done,
                                 static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return drop(bytes.size() - done);
      done += static_cast<std::size_t>(n);
    }
    w_.metrics().mirror_sent.add(bytes.size());
    return;
  }
  flush();  // bytes still pending go first
  std::size_t sent = 0;
  if (backlog() == 0) {
    const ssize_t n = ::send(sock_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent) w_.metrics().mirror_sent.add(sent);
  }
  const auto rest = bytes.subspan(sent);
  if (!rest.empty() && !hold(rest)) cut(rest.size());  // behind or gone: never wait for it
}

Task<void> Mirror::finish(Loop& loop, Clock::duration within) {
  const auto deadline = Clock::now() + within;
  while (sock_ && backlog() > 0) {
    flush();
    if (!sock_ || backlog() == 0) break;
    const IoOptions io(deadline);  // named: no temporaries inside co_await (loop.hpp)
    auto r = co_await loop.writable(sock_.get(), io);
    if (!r) {
      cut(0);
      break;
    }
  }
  discard_backlog();
  if (sock_) loop.close(std::move(sock_));
}

}  // namespace zcnet::proxy

// Systems without splice: every flow copies (splice_available() is false, so the proxy never
// asks for the pipe path), and the mirror keeps what its socket has not taken yet in memory,
// bounded like the pipe it would use elsewhere.
#include <sys/socket.h>

#include <cerrno>

#include "proxy/relay.hpp"

namespace zcnet::proxy {

bool splice_available() noexcept {
  return false;
}

BackendKind Proxy::preferred_backend() noexcept {
  return BackendKind::Auto;  // poll() is all there is
}

Task<void> pump_splice(Worker& w, Flow& f, const CancelToken& token) {
  const IoOptions io(token);  // named: no temporaries inside co_await (loop.hpp)
  while (co_await copy_burst(w, f, io, w.options().step_budget)) {
  }
}

void Mirror::tee(int, std::size_t n) {
  drop(n);
}

std::size_t Mirror::backlog() const noexcept {
  return held_.size();
}

void Mirror::discard_backlog() noexcept {
  std::vector<std::byte>().swap(held_);
}

bool Mirror::hold(std::span<const std::byte> bytes) {
  if (held_.size() + bytes.size() > w_.options().pipe_bytes) return false;
  held_.insert(held_.end(), bytes.begin(), bytes.end());
  return true;
}

void Mirror::flush() {
  std::size_t sent = 0;
  while (sock_ && sent < held_.size()) {
    const ssize_t n =
        ::send(sock_.get(), held_.data() + sent, held_.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // it takes the rest later
    if (n <= 0) {
      held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(sent));
      return cut(0);
    }
    w_.metrics().mirror_sent.add(static_cast<std::uint64_t>(n));
    sent += static_cast<std::size_t>(n);
  }
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(sent));
  if (held_.empty()) discard_backlog();
}

}  // namespace zcnet::proxy

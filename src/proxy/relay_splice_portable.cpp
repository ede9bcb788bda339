// Systems without splice: every flow copies (splice_available() is false, so the proxy never
// asks for the pipe path), and the mirror has no pipe to tee into.
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

bool Mirror::hold(std::span<const std::byte>) {
  return false;  // no pipe to keep them in: what the mirror's socket does not take is dropped
}

void Mirror::flush() {}

}  // namespace zcnet::proxy

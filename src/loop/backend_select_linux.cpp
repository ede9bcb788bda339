// Backend choice on Linux: io_uring when the capability probe says the proactor can run here
// (ZCNET_DISABLE=uring turns it off with the io_uring strategies), epoll otherwise;
// LoopOptions::backend or $ZCNET_BACKEND force one.
#include <cerrno>
#include <cstdlib>

#include "loop/backend.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet {

namespace detail {
Result<std::unique_ptr<Backend>> make_epoll_reactor(Loop& loop, const LoopOptions& options);
Result<std::unique_ptr<Backend>> make_uring_proactor(Loop& loop, const LoopOptions& options);
}  // namespace detail

bool uring_backend_available() noexcept {
  return Capabilities::probe().uring_loop;
}

namespace detail {

BackendKind resolve_backend(BackendKind requested) noexcept {
  if (requested != BackendKind::Auto) return requested;
  if (const char* env = std::getenv("ZCNET_BACKEND")) {
    if (auto k = parse_backend(env); k && *k != BackendKind::Auto) return *k;
  }
  return uring_backend_available() ? BackendKind::Uring : BackendKind::Epoll;
}

Result<std::unique_ptr<Backend>> make_backend(BackendKind kind, Loop& loop,
                                              const LoopOptions& options) {
  switch (kind) {
    case BackendKind::Uring:
      if (!uring_backend_available())
        return Error(ENOSYS, "loop", "io_uring backend forced but not available here");
      return make_uring_proactor(loop, options);
    case BackendKind::Poll:
      return make_poll_reactor(loop, options);
    default:
      return make_epoll_reactor(loop, options);
  }
}

}  // namespace detail
}  // namespace zcnet

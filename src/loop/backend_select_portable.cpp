// Backend choice where only POSIX is available: the poll() reactor.
#include <cerrno>

#include "loop/backend.hpp"

namespace zcnet {

bool uring_backend_available() noexcept {
  return false;
}

namespace detail {

BackendKind resolve_backend(BackendKind requested) noexcept {
  return requested == BackendKind::Auto ? BackendKind::Poll : requested;
}

Result<std::unique_ptr<Backend>> make_backend(BackendKind kind, Loop& loop,
                                              const LoopOptions& options) {
  if (kind != BackendKind::Poll)
    return Error(ENOSYS, "loop",
                 std::string("backend not built in: ") + std::string(to_string(kind)));
  return make_poll_reactor(loop, options);
}

}  // namespace detail
}  // namespace zcnet

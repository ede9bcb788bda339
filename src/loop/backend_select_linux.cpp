// Backend choice on Linux: io_uring when the runtime probe allows it, epoll otherwise;
// LoopOptions::backend or $ZCNET_BACKEND force one.
#include <liburing.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "loop/backend.hpp"
#include "loop/uring_buf_ring.hpp"

namespace zcnet {

namespace detail {
Result<std::unique_ptr<Backend>> make_epoll_reactor(Loop& loop, const LoopOptions& options);
Result<std::unique_ptr<Backend>> make_uring_proactor(Loop& loop, const LoopOptions& options);
}  // namespace detail

namespace {

bool disabled_by_env() {
  const char* d = std::getenv("ZCNET_DISABLE");
  if (!d) return false;
  std::string_view s(d);
  while (!s.empty()) {
    auto comma = s.find(',');
    if (s.substr(0, comma) == "io_uring") return true;
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return false;
}

// Everything the proactor uses: the opcodes, and provided-buffer rings (kernel 5.19+, which
// also brings multishot accept and recv).
bool probe_uring() {
  if (disabled_by_env()) return false;
  io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) < 0) return false;
  bool ok = false;
  if (io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
    ok = true;
    for (int op : {IORING_OP_POLL_ADD, IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_READ,
                   IORING_OP_SEND, IORING_OP_RECV, IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT})
      ok = ok && io_uring_opcode_supported(p, op);
    io_uring_free_probe(p);
  }
  if (ok) {
    detail::UringBufRing br;
    ok = br.setup(&ring, 1, 4096).has_value();
  }
  io_uring_queue_exit(&ring);
  return ok;
}

}  // namespace

bool uring_backend_available() noexcept {
  static const bool available = probe_uring();
  return available;
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

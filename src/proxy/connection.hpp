// A client connection's life (connection.cpp) and the health checks (health.cpp).
#pragma once

#include <cerrno>
#include <cstddef>

#include "proxy/worker.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::proxy {

// A dial that failed for want of a descriptor or memory here, not because of the upstream: it is
// neither a passive failure nor a failed check of the upstream, and the next one would fail alike.
inline bool local_shortage(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

// Counted in by the caller (Proxy::try_enter), out by the task.
Task<void> proxy_connection(Worker& w, std::size_t listener, UniqueFd client);

// Active health checks of every listener of the Proxy's current Config, each listener at its own
// interval, until `stop` is cancelled.
Task<void> run_health_checks(Proxy& proxy, Loop& loop, CancelToken stop);

}  // namespace zcnet::proxy

// A client connection's life (connection.cpp) and the health checks (health.cpp).
#pragma once

#include <cstddef>

#include "proxy/worker.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::proxy {

// Counted in by the caller (Proxy::try_enter), out by the task.
Task<void> proxy_connection(Worker& w, std::size_t listener, UniqueFd client);

// Active health checks of every listener of the Proxy's current Config, each listener at its own
// interval, until `stop` is cancelled.
Task<void> run_health_checks(Proxy& proxy, Loop& loop, CancelToken stop);

}  // namespace zcnet::proxy

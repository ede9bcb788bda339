// From a parsed request to what goes on the wire: status, header bytes, and the file range that
// follows them. Synchronous (open, fstat): the connection task only awaits the sending.
#pragma once

#include <span>

#include "http/file_cache.hpp"
#include "http/plan.hpp"
#include "http/request.hpp"
#include "zcnet/http/server.hpp"

namespace zcnet::http {

// Plans the response to `req` into `out` (the response head; small error bodies too), using
// `path` as scratch for the resolved path and `cache` for open files. Never fails: trouble
// becomes a 4xx/5xx plan.
Plan plan_response(const Site& server, FileCache& cache, const Request& req, bool draining,
                   std::span<char> out, std::span<char> path);

}  // namespace zcnet::http

// From a parsed request to what goes on the wire: status, header bytes, and the file range that
// follows them. Synchronous (open, fstat): the connection task only awaits the sending.
#pragma once

#include <cstdint>
#include <span>

#include "http/request.hpp"
#include "zcnet/fd.hpp"
#include "zcnet/http/server.hpp"

namespace zcnet::http {

struct Plan {
  int status = 200;
  std::size_t head_bytes = 0;  // header (and, for errors, the small body) in the out buffer
  UniqueFd file;               // set when a file body follows the head
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool keep_alive = true;
};

// Plans the response to `req` into `out` (the response head; small error bodies too), using
// `path` as scratch for the resolved path. Never fails: trouble becomes a 4xx/5xx plan.
Plan plan_response(const Server& server, const Request& req, bool draining, std::span<char> out,
                   std::span<char> path);

// A response with only a status and a small text body (400, 408, 414, 431, 503 ...).
Plan plan_error(int status, bool keep_alive, bool head_only, std::span<char> out);

}  // namespace zcnet::http

// From a parsed request to what goes on the wire: status, header bytes, and the file range that
// follows them. Synchronous (open, fstat): the connection task only awaits the sending.
#pragma once

#include <cstdint>
#include <span>

#include "http/file_cache.hpp"
#include "http/request.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::http {

struct Plan {
  int status = 200;
  std::size_t head_bytes = 0;  // header (and, for errors, the small body) in the out buffer
  UniqueFd file;               // set when a body follows the head from a file the plan owns
  FileRef cached;              // ... or from a file in the worker's FileCache
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool keep_alive = true;

  bool has_body() const noexcept { return file || cached; }
  int body_fd() const noexcept { return cached ? cached.fd() : file.get(); }
};

// Plans the response to `req` into `out` (the response head; small error bodies too), using
// `path` as scratch for the resolved path and `cache` for open files. Never fails: trouble
// becomes a 4xx/5xx plan.
Plan plan_response(const Site& server, FileCache& cache, const Request& req, bool draining,
                   std::span<char> out, std::span<char> path);

// A response with only a status and a small text body (400, 408, 414, 431, 503 ...).
Plan plan_error(int status, bool keep_alive, bool head_only, std::span<char> out);

}  // namespace zcnet::http

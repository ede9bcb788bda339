// The response plan: what goes on the wire for one request (its status, the head's bytes in the
// connection's buffer, and the file range that follows them), and the plans that need no file.
// respond.hpp and directory.hpp make plans; the connection sends them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "http/file_cache.hpp"
#include "http/response.hpp"
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

// A response with only a status and a small text body (400, 408, 414, 431, 503 ...).
Plan plan_error(int status, bool keep_alive, bool head_only, std::span<char> out);

// `h` with a "<status> <reason>" text body (none for HEAD): the status-only responses that still
// describe the file (416 with Content-Range) or carry Allow (405).
Plan plan_status(ResponseHead& h, bool head_only, std::span<char> out);

}  // namespace zcnet::http

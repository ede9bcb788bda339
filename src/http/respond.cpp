#include "http/respond.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "http/directory.hpp"
#include "http/path.hpp"
#include "http/response.hpp"

namespace zcnet::http {

namespace {

// The response for a regular file: 304, 416, 206 or 200, its head in `out`, the body (unless
// HEAD or empty) as a range of `f`.
Plan plan_file(FileRef f, const Request& req, bool keep_alive, std::span<char> out) {
  const bool head_only = req.method == Method::Head;
  const Validators& v = f->validators;
  const std::uint64_t size = f->size;
  ResponseHead h;
  h.keep_alive = keep_alive;
  h.http10 = req.minor == 0;
  h.validators = &v;
  h.representation_size = size;
  Plan p;
  p.keep_alive = keep_alive;
  if (not_modified(req, v)) {
    h.status = p.status = 304;  // no body, no Content-Length (RFC 9110 15.4.5)
    p.head_bytes = format_head(h, std::time(nullptr), out);
    return p;
  }
  ByteRange range;
  // Range applies to GET only (RFC 9110 14.2); a failed If-Range means the whole file.
  if (req.method == Method::Get && !req.range.empty() && if_range_allows(req.if_range, v))
    range = parse_range(req.range, size);
  if (range.kind == ByteRange::Kind::Unsatisfiable) {
    ResponseHead e;
    e.status = 416;
    e.keep_alive = keep_alive;
    e.http10 = h.http10;
    e.content_range = range;
    e.representation_size = size;
    return plan_status(e, head_only, out);
  }
  h.accept_ranges = true;
  h.content_type = f->content_type;
  p.offset = 0;
  p.length = size;
  h.status = 200;
  if (range.kind == ByteRange::Kind::Partial) {
    h.status = 206;
    h.content_range = range;
    p.offset = range.first;
    p.length = range.last - range.first + 1;
  }
  p.status = h.status;
  h.content_length = p.length;
  p.head_bytes = format_head(h, std::time(nullptr), out);
  if (!head_only && p.length > 0) p.cached = std::move(f);
  return p;
}

}  // namespace

Plan plan_response(const Site& server, FileCache& cache, const Request& req, bool draining,
                   std::span<char> out, std::span<char> path) {
  const bool head_only = req.method == Method::Head;
  // A body is never read: the connection closes after the response, so that its bytes are never
  // taken for a next request.
  const bool keep_alive = req.keep_alive && !draining && !req.has_body();
  if (req.method == Method::Unknown) return plan_error(501, keep_alive, false, out);
  if (req.method == Method::Other) return plan_error(405, keep_alive, false, out);

  PathOptions po;
  po.allow_dotfiles = server.options().allow_dotfiles;
  NormalizedPath np = normalize_target(req.target, path.first(path.size() - 16), po);
  if (np.status) return plan_error(np.status, keep_alive && np.status != 400, head_only, out);
  // A cache hit costs no open, fstat or close (at most one fstatat to revalidate).
  const auto now = Clock::now();
  if (FileRef hit = cache.find(server.root_fd(), std::string_view(path.data(), np.size), now))
    return plan_file(std::move(hit), req, keep_alive, out);

  auto file = server.open_file(path.data());
  if (!file)
    return plan_error(status_for_open_failure(file.error(), req.target), keep_alive, head_only,
                      out);
  struct stat st {};
  if (::fstat(file->get(), &st) != 0) return plan_error(500, keep_alive, head_only, out);
  if (S_ISDIR(st.st_mode)) {
    if (!np.trailing_slash) return plan_directory_redirect(req, keep_alive, head_only, out);
    // A directory serves its index.html (the 16 bytes kept free above hold the suffix).
    const std::size_t index_len = np.size ? np.size + 11 : 10;
    std::memcpy(path.data() + np.size, np.size ? "/index.html" : "index.html", np.size ? 12 : 11);
    if (FileRef hit = cache.find(server.root_fd(), std::string_view(path.data(), index_len), now))
      return plan_file(std::move(hit), req, keep_alive, out);
    file = server.open_file(path.data());
    if (!file) {
      const int code = file.error().code();
      path[np.size] = '\0';  // back to the directory
      if (code == ENOENT && server.options().autoindex)
        return plan_listing(server, path.data(), keep_alive, req.minor == 0, head_only, out);
      return plan_error(code == ENOENT ? 403 : status_for_open_error(code), keep_alive, head_only,
                        out);
    }
    if (::fstat(file->get(), &st) != 0) return plan_error(500, keep_alive, head_only, out);
  }
  if (!S_ISREG(st.st_mode)) return plan_error(403, keep_alive, head_only, out);
  FileRef entry = cache.insert(std::string_view(path.data()), std::move(*file), st, now);
  return plan_file(std::move(entry), req, keep_alive, out);
}

}  // namespace zcnet::http

#include "http/path.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "http/text.hpp"

namespace zcnet::http {

namespace {

NormalizedPath refuse(int status) {
  NormalizedPath p;
  p.status = status;
  return p;
}

}  // namespace

std::string_view origin_form(std::string_view target) noexcept {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (istarts_with(target, scheme)) {
      // The authority ends at the first '/', '?' or '#' (RFC 3986 3.2): "http://h?/etc/x" names
      // the root with the query "/etc/x", not the file etc/x. An empty path is "/" (its query,
      // which a static server does not use, is not kept).
      const auto end = target.find_first_of("/?#", scheme.size());
      return end == std::string_view::npos || target[end] != '/' ? std::string_view("/")
                                                                 : target.substr(end);
    }
  }
  return target;
}

NormalizedPath normalize_target(std::string_view target, std::span<char> out,
                                const PathOptions& options) {
  std::string_view path = origin_form(target);
  if (path.empty() || path.front() != '/') return refuse(400);
  path = path.substr(0, path.find_first_of("?#"));
  if (out.empty()) return refuse(414);
  std::size_t len = 0;  // bytes of `out` holding finished segments, '/'-separated
  bool trailing = true;
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    std::string_view raw = path.substr(0, path.find('/'));
    path.remove_prefix(raw.size());
    // Decode the segment after the finished ones (after a '/' if any), keeping room for the NUL.
    const std::size_t start = len == 0 ? 0 : len + 1;
    std::size_t w = start;
    bool encoded_dot = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '%') {
        if (i + 2 >= raw.size()) return refuse(400);
        int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
        if (hi < 0 || lo < 0) return refuse(400);
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
        if (c == '/' || c == '\0') return refuse(400);
        if (c == '.') encoded_dot = true;
      }
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return refuse(400);
      if (w + 1 >= out.size()) return refuse(414);
      out[w++] = c;
    }
    std::string_view seg(out.data() + start, w - start);
    trailing = seg.empty() || seg == "." || seg == "..";
    if (seg.empty()) continue;
    if ((seg == "." || seg == "..") && encoded_dot) return refuse(400);
    if (seg == ".") continue;
    if (seg == "..") {
      if (len == 0) return refuse(400);  // above the root
      std::string_view done(out.data(), len);
      auto slash = done.rfind('/');
      len = slash == std::string_view::npos ? 0 : slash;
      continue;
    }
    if (start > 0) out[len] = '/';
    len = w;
  }
  out[len] = '\0';
  NormalizedPath p;
  p.size = len;
  p.trailing_slash = trailing;
  if (!options.allow_dotfiles) {
    std::string_view done(out.data(), len);
    if (!done.empty() && (done.front() == '.' || done.find("/.") != std::string_view::npos))
      p.status = 404;
  }
  return p;
}

int status_for_open_error(int code) noexcept {
  switch (code) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return 404;
    case EXDEV:
    case EACCES:
    case EPERM:
    case ELOOP:
      return 403;
    case EMFILE:
    case ENFILE:
      return 503;
    default:
      return 500;
  }
}

int status_for_open_failure(const Error& e, std::string_view target) {
  const int status = status_for_open_error(e.code());
  if (status == 500) fmt::print(stderr, "zcnet serve: 500 for {}: {}\n", target, e.message());
  return status;
}

}  // namespace zcnet::http

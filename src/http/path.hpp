// From a request target to an open file beneath the document root, refusing every way out:
// `..` past the root, percent-encoded dot segments and slashes, NUL and control bytes, and
// symlinks that resolve outside the root (sys::open_beneath: openat2 RESOLVE_BENEATH, else a
// realpath check).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::http {

struct PathOptions {
  bool allow_dotfiles = false;  // false: any segment starting with '.' is 404
};

struct NormalizedPath {
  std::size_t size = 0;         // bytes written to the output buffer ("" = the root itself)
  bool trailing_slash = false;  // the target named a directory ("/docs/")
  int status = 0;               // 0: ok; else 400 (malformed or escaping), 404, 414
};

// "http://host:80/a?b" -> "/a?b": the path and query of an absolute-form target, whose host part
// ends at the first '/', '?' or '#' ("http://h?/x" -> "/"); origin-form ("/a?b") is returned as
// it is.
std::string_view origin_form(std::string_view target) noexcept;

// Writes the root-relative path of `target` ("/a/./b/../c%20d?q" -> "a/c d") into `out`, with no
// leading slash, no empty, "." or ".." segments, NUL-terminated. Raw ".." segments are resolved
// (RFC 3986 5.2.4) and refused once they would climb above the root; percent-encoded dots
// ("%2e%2e", ".%2e") and slashes ("%2f") are refused outright, as they are not dot-segments or
// separators to the URI but would be to the filesystem. Accepts origin-form and absolute-form.
NormalizedPath normalize_target(std::string_view target, std::span<char> out,
                                const PathOptions& options = {});

// HTTP status for an error of sys::open_beneath() (src/sys/open_beneath.hpp): 404 (ENOENT, ENOTDIR,
// ENAMETOOLONG), 403 (EXDEV, EACCES, EPERM, ELOOP), 503 (EMFILE, ENFILE), else 500.
int status_for_open_error(int code) noexcept;
// The same, and a 500 (an error the server did not expect: ENXIO for a socket file, EIO ...) is
// logged to stderr naming the target and the errno.
int status_for_open_failure(const Error& e, std::string_view target);

}  // namespace zcnet::http

// What a response says about a file: validators (ETag, Last-Modified), conditionals (RFC 9110
// 13), byte ranges (RFC 9110 14), the MIME type, and the header bytes, formatted into a caller
// buffer without allocating.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string_view>

#include "http/request.hpp"

namespace zcnet::http {

// ---- dates (RFC 9110 5.6.7) ----
// "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes) into `out`; returns the bytes written.
std::size_t format_http_date(std::time_t t, std::span<char, 29> out) noexcept;
// IMF-fixdate, obsolete RFC 850 and asctime forms; nullopt if none parses.
std::optional<std::time_t> parse_http_date(std::string_view s) noexcept;

// ---- validators ----
struct Validators {
  char etag[48];  // "\"<mtime ns hex>-<size hex>\"", strong
  std::size_t etag_len = 0;
  std::time_t last_modified = 0;
  char last_modified_text[29];  // last_modified as an HTTP date, formatted once
  std::string_view etag_view() const noexcept { return {etag, etag_len}; }
  std::string_view last_modified_view() const noexcept { return {last_modified_text, 29}; }
};
Validators validators_of(const struct stat& st) noexcept;

// True if a GET/HEAD should be answered 304 (If-None-Match first, else If-Modified-Since).
bool not_modified(const Request& req, const Validators& v) noexcept;

// ---- ranges ----
struct ByteRange {
  enum class Kind : std::uint8_t { Full, Partial, Unsatisfiable } kind = Kind::Full;
  std::uint64_t first = 0;  // Partial: [first, last]
  std::uint64_t last = 0;
};
// A Range field value against a representation of `size` bytes: Full when absent, not "bytes",
// malformed or a multi-range (served whole: documented), Partial for one satisfiable range
// (clipped to the end), Unsatisfiable for one that starts past the end.
ByteRange parse_range(std::string_view value, std::uint64_t size) noexcept;
// If-Range (RFC 9110 13.1.5): true if the Range may apply (absent, or the validator matches).
bool if_range_allows(std::string_view if_range, const Validators& v) noexcept;

// ---- content types ----
std::string_view mime_type(std::string_view path) noexcept;  // by extension; octet-stream else

// ---- header bytes ----
struct ResponseHead {
  int status = 200;
  bool keep_alive = true;
  bool http10 = false;  // keep-alive must then be said explicitly
  std::optional<std::uint64_t> content_length;
  std::string_view content_type;
  const Validators* validators = nullptr;  // ETag and Last-Modified when set
  std::optional<ByteRange> content_range;  // 206: Partial; 416: Unsatisfiable
  std::uint64_t representation_size = 0;   // the "/size" in Content-Range
  bool accept_ranges = false;
  bool allow = false;  // 405: "Allow: GET, HEAD"
};
std::string_view reason_phrase(int status) noexcept;
// The status line and fields, ending in the blank line; 0 if `out` is too small.
std::size_t format_head(const ResponseHead& head, std::time_t now, std::span<char> out) noexcept;

}  // namespace zcnet::http

// An HTTP/1.x request parsed in place (RFC 9112): every string_view points into the caller's
// buffer, so parsing allocates nothing and the views live as long as those bytes stay put.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace zcnet::http {

struct ParseLimits {
  std::size_t max_request_line = 4096;  // longer: 414 (a request line is mostly its target)
  std::size_t max_header_bytes = 8192;  // request line + fields + blank line; longer: 431
  std::size_t max_headers = 64;         // field lines; more: 431
};

// Other: a method RFC 9110 or 5789 defines that a static server does not allow (405); Unknown:
// any other token, compared case-sensitively as methods are (501).
enum class Method : std::uint8_t { Get, Head, Other, Unknown };

struct Request {
  Method method = Method::Other;
  std::string_view method_name;
  std::string_view target;  // as sent: origin-form "/a/b?q" or absolute-form "http://h/a"
  int minor = 1;            // HTTP/1.<minor>
  // The fields the server acts on (others are counted against the limits and skipped).
  std::string_view host;
  std::string_view connection;
  std::string_view range;
  std::string_view if_range;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view traceparent;   // W3C Trace Context, read when the server traces
  std::string_view tracestate;    // the first tracestate line
  bool tracestate_lines = false;  // more than one: not carried (they would have to be joined)
  bool has_host = false;
  std::optional<std::uint64_t> content_length;  // the Content-Length, when sent
  bool transfer_encoding = false;               // a Transfer-Encoding was sent
  std::size_t header_count = 0;
  bool keep_alive = true;  // per RFC 9112 9.3 from the version and Connection

  // Content-Length > 0 or any Transfer-Encoding. A body is never read, so the connection closes
  // after the response.
  bool has_body() const noexcept { return transfer_encoding || content_length.value_or(0) > 0; }
};

enum class ParseStatus : std::uint8_t { Incomplete, Complete, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  int http_status = 0;       // on Error: 400, 414, 431, 505
  std::size_t consumed = 0;  // on Complete: bytes of this request, including the blank line
};

// Parses one request from the front of `in`. Incomplete: more bytes are needed (and none of the
// limits is exceeded yet by what is there). Leading empty lines are skipped (RFC 9112 2.2).
ParseResult parse_request(std::span<const char> in, const ParseLimits& limits, Request& out);

}  // namespace zcnet::http

// RFC 9112 request parsing, strict where leniency lets requests be smuggled (whitespace before a
// colon, obs-fold, bare CR) and lenient where the RFC says a server may be (bare LF line ends,
// empty lines before the request line).
#include "http/request.hpp"

#include "http/text.hpp"

namespace zcnet::http {

namespace {

ParseResult fail(int status) {
  return {ParseStatus::Error, status, 0};
}

// One line starting at `pos`: its text without CR LF and where the next begins; nullopt if the
// line end has not arrived. A CR anywhere but right before the LF is malformed (`bad`).
struct Line {
  std::string_view text;
  std::size_t next = 0;
  bool bad = false;
};
// A CR followed by anything but LF, in bytes whose line has not ended yet: the request can never
// become valid, so it is refused now rather than at the header timeout.
bool bare_cr(std::string_view in, std::size_t pos) {
  for (auto cr = in.find('\r', pos); cr != std::string_view::npos; cr = in.find('\r', cr + 1))
    if (cr + 1 < in.size() && in[cr + 1] != '\n') return true;
  return false;
}

std::optional<Line> next_line(std::string_view in, std::size_t pos) {
  auto lf = in.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view text = in.substr(pos, lf - pos);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return Line{text, lf + 1, text.find('\r') != std::string_view::npos};
}

// Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.
Method method_named(std::string_view m) {
  if (m == "GET") return Method::Get;
  if (m == "HEAD") return Method::Head;
  for (std::string_view known : {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
    if (m == known) return Method::Other;
  return Method::Unknown;
}

// "GET /x HTTP/1.1": exactly one SP between the three parts (RFC 9112 3).
int parse_request_line(std::string_view line, Request& out) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 400;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return 400;
  // Kept only once they are valid: a rejected request's method and target go to the access log.
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return 400;
  out.method_name = method;
  if (target.empty()) return 400;
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return 400;
  out.target = target;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return 400;
  if (version[5] != '1') return 505;
  out.minor = version[7] == '0' ? 0 : 1;  // 1.2+ is answered as 1.1 (RFC 9110 2.5)
  out.method = method_named(out.method_name);
  return 0;
}

// Content-Length: 1*DIGIT; a list of identical values is allowed (RFC 9110 8.6), in one field
// line or several; different values are a 400 (RFC 9112 6.3).
int note_content_length(std::string_view v, Request& out) {
  std::optional<std::uint64_t> seen = out.content_length;
  while (!v.empty()) {
    const std::string_view item = pop_list_item(v);
    if (item.size() > 18) return 400;  // 18 digits cannot saturate parse_digits
    const auto n = parse_digits(item);
    if (!n || (seen && *seen != *n)) return 400;
    seen = n;
  }
  if (!seen) return 400;
  out.content_length = seen;
  return 0;
}

int note_field(std::string_view name, std::string_view value, Request& out) {
  if (iequals(name, "host")) {
    if (out.has_host) return 400;  // RFC 9112 3.2: more than one Host is a 400
    out.has_host = true;
    out.host = value;
  } else if (iequals(name, "connection")) {
    out.connection = value;  // the last one is kept; has_token() over it decides keep-alive
    if (has_token(value, "close")) out.keep_alive = false;
  } else if (iequals(name, "range")) {
    out.range = value;
  } else if (iequals(name, "if-range")) {
    out.if_range = value;
  } else if (iequals(name, "if-none-match")) {
    out.if_none_match = value;
  } else if (iequals(name, "if-modified-since")) {
    out.if_modified_since = value;
  } else if (iequals(name, "traceparent")) {
    out.traceparent = value;
  } else if (iequals(name, "tracestate")) {
    if (!out.tracestate.empty()) out.tracestate_lines = true;
    out.tracestate = value;
  } else if (iequals(name, "content-length")) {
    return note_content_length(value, out);
  } else if (iequals(name, "transfer-encoding")) {
    out.transfer_encoding = true;
  }
  return 0;
}

}  // namespace

ParseResult parse_request(std::span<const char> bytes, const ParseLimits& limits, Request& out) {
  const std::string_view in(bytes.data(), bytes.size());
  out = Request{};
  std::size_t pos = 0;
  // Empty lines before the request line are skipped (RFC 9112 2.2), counted against the limit.
  while (pos < in.size() &&
         (in[pos] == '\n' || (in[pos] == '\r' && pos + 1 < in.size() && in[pos + 1] == '\n')))
    pos += in[pos] == '\n' ? 1 : 2;
  if (pos > limits.max_header_bytes) return fail(431);
  auto first = next_line(in, pos);
  if (!first) {
    if (bare_cr(in, pos)) return fail(400);
    // A CR at the end may be the line's own, whose LF has not arrived: it does not count.
    const std::size_t seen = in.size() - pos - (in.back() == '\r' ? 1 : 0);
    if (seen > limits.max_request_line) return fail(414);
    if (in.size() > limits.max_header_bytes) return fail(431);
    return {};
  }
  if (first->text.size() > limits.max_request_line) return fail(414);
  if (first->bad) return fail(400);
  if (int s = parse_request_line(first->text, out)) return fail(s);
  pos = first->next;
  for (;;) {
    if (pos > limits.max_header_bytes) return fail(431);
    auto line = next_line(in, pos);
    if (!line) {
      if (bare_cr(in, pos)) return fail(400);
      return in.size() > limits.max_header_bytes ? fail(431) : ParseResult{};
    }
    if (line->next > limits.max_header_bytes) return fail(431);
    if (line->bad) return fail(400);
    pos = line->next;
    if (line->text.empty()) break;
    // obs-fold (a line starting with whitespace) is refused (RFC 9112 5.2).
    if (line->text.front() == ' ' || line->text.front() == '\t') return fail(400);
    if (++out.header_count > limits.max_headers) return fail(431);
    auto colon = line->text.find(':');
    if (colon == std::string_view::npos) return fail(400);
    std::string_view name = line->text.substr(0, colon);
    // No whitespace between name and colon (RFC 9112 5.1: MUST reject).
    if (!is_token(name)) return fail(400);
    std::string_view value = trim_ows(line->text.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return fail(400);
    if (int s = note_field(name, value, out)) return fail(s);
  }
  if (out.minor >= 1 && !out.has_host) return fail(400);  // RFC 9112 3.2
  // Both framings: a request a proxy in front may have read differently (RFC 9112 6.1, 6.3).
  if (out.transfer_encoding && out.content_length) return fail(400);
  if (out.minor == 0) out.keep_alive = has_token(out.connection, "keep-alive") && out.keep_alive;
  return {ParseStatus::Complete, 0, pos};
}

}  // namespace zcnet::http

#include "http/response.hpp"

#include <cstdio>
#include <cstring>

#include "http/text.hpp"

namespace zcnet::http {

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Weak comparison (RFC 9110 8.8.3.2): the opaque tags match, W/ prefixes ignored.
std::string_view opaque(std::string_view tag) noexcept {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

std::size_t format_http_date(std::time_t t, std::span<char, 29> out) noexcept {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  std::memcpy(out.data(), buf, 29);
  return 29;
}

std::optional<std::time_t> parse_http_date(std::string_view s) noexcept {
  char buf[64];
  if (s.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  // IMF-fixdate, then the obsolete RFC 850 and asctime forms recipients must still accept.
  for (const char* fmt :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(buf, fmt, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

Validators validators_of(const struct stat& st) noexcept {
  Validators v;
  const auto mtime_ns = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ULL +
                        static_cast<unsigned long long>(st.st_mtim.tv_nsec);
  int n = std::snprintf(v.etag, sizeof v.etag, "\"%llx-%llx\"", mtime_ns,
                        static_cast<unsigned long long>(st.st_size));
  v.etag_len = n > 0 ? static_cast<std::size_t>(n) : 0;
  v.last_modified = st.st_mtim.tv_sec;
  format_http_date(v.last_modified, std::span<char, 29>(v.last_modified_text, 29));
  return v;
}

bool not_modified(const Request& req, const Validators& v) noexcept {
  if (!req.if_none_match.empty()) {
    // If-None-Match wins; If-Modified-Since is then ignored (RFC 9110 13.2.2).
    std::string_view list = req.if_none_match;
    if (trim_ows(list) == "*") return true;
    while (!list.empty())
      if (opaque(pop_list_item(list)) == v.etag_view()) return true;
    return false;
  }
  if (!req.if_modified_since.empty()) {
    auto since = parse_http_date(trim_ows(req.if_modified_since));
    return since && v.last_modified <= *since;  // an invalid date is ignored
  }
  return false;
}

bool if_range_allows(std::string_view if_range, const Validators& v) noexcept {
  if_range = trim_ows(if_range);
  if (if_range.empty()) return true;
  if (if_range.front() == '"') return if_range == v.etag_view();  // strong comparison
  if (if_range.starts_with("W/")) return false;                   // weak never matches here
  auto date = parse_http_date(if_range);
  return date && *date == v.last_modified;
}

ByteRange parse_range(std::string_view value, std::uint64_t size) noexcept {
  ByteRange full;
  value = trim_ows(value);
  if (!istarts_with(value, "bytes=")) return full;
  value.remove_prefix(6);
  std::string_view spec;
  int specs = 0;
  while (!value.empty()) {
    const std::string_view item = pop_list_item(value);
    if (!item.empty()) {
      spec = item;
      ++specs;
    }
  }
  if (specs != 1) return full;  // none, or a multi-range: the whole representation
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  ByteRange r;
  r.kind = ByteRange::Kind::Partial;
  if (dash == 0) {  // suffix: the last N bytes
    auto n = parse_digits(spec.substr(1));
    if (!n) return full;
    if (*n == 0 || size == 0) return {ByteRange::Kind::Unsatisfiable};
    r.first = size - std::min(*n, size);
    r.last = size - 1;
    return r;
  }
  auto first = parse_digits(spec.substr(0, dash));
  if (!first) return full;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (dash + 1 < spec.size()) {
    auto l = parse_digits(spec.substr(dash + 1));
    if (!l || *l < *first) return full;  // invalid: the field is ignored
    last = std::min(*l, last);
  }
  if (*first >= size) return {ByteRange::Kind::Unsatisfiable};
  r.first = *first;
  r.last = last;
  return r;
}

std::string_view mime_type(std::string_view path) noexcept {
  struct Entry {
    std::string_view ext, type;
  };
  static constexpr Entry kTable[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/vnd.microsoft.icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tar", "application/x-tar"},
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},
      {"wav", "audio/wav"},
  };
  auto slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < name.size()) {
    std::string_view ext = name.substr(dot + 1);
    for (const auto& e : kTable)
      if (iequals(e.ext, ext)) return e.type;
  }
  return "application/octet-stream";
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

namespace {

// Appends text and numbers to a caller buffer without formatting machinery; `ok` turns false
// (and stays) when the buffer is too small.
struct HeadWriter {
  char* p;
  std::size_t left;
  bool ok = true;
  void put(std::string_view s) noexcept {
    if (!ok || s.size() > left) {
      ok = false;
      return;
    }
    std::memcpy(p, s.data(), s.size());
    p += s.size();
    left -= s.size();
  }
  void put(std::uint64_t n) noexcept {
    char digits[20];
    std::size_t i = sizeof digits;
    do {
      digits[--i] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n);
    put(std::string_view(digits + i, sizeof digits - i));
  }
};

}  // namespace

std::size_t format_head(const ResponseHead& h, std::time_t now, std::span<char> out) noexcept {
  // The Date string changes once a second: formatted once per second per thread.
  thread_local std::time_t date_second = -1;
  thread_local char date[29];
  if (now != date_second) {
    format_http_date(now, date);
    date_second = now;
  }
  // Runs once per response: plain copies, no format strings (they showed in profiles).
  HeadWriter w{out.data(), out.size()};
  w.put("HTTP/1.1 ");
  w.put(static_cast<std::uint64_t>(h.status));
  w.put(" ");
  w.put(reason_phrase(h.status));
  w.put("\r\nServer: zcnet\r\nDate: ");
  w.put(std::string_view(date, 29));
  w.put("\r\n");
  if (!h.content_type.empty()) {
    w.put("Content-Type: ");
    w.put(h.content_type);
    w.put("\r\n");
  }
  if (h.content_length) {
    w.put("Content-Length: ");
    w.put(*h.content_length);
    w.put("\r\n");
  }
  if (h.validators) {
    w.put("Last-Modified: ");
    w.put(h.validators->last_modified_view());
    w.put("\r\nETag: ");
    w.put(h.validators->etag_view());
    w.put("\r\n");
  }
  if (h.content_range) {
    w.put("Content-Range: bytes ");
    if (h.content_range->kind == ByteRange::Kind::Partial) {
      w.put(h.content_range->first);
      w.put("-");
      w.put(h.content_range->last);
    } else {
      w.put("*");
    }
    w.put("/");
    w.put(h.representation_size);
    w.put("\r\n");
  }
  if (h.accept_ranges) w.put("Accept-Ranges: bytes\r\n");
  if (h.allow) w.put("Allow: GET, HEAD\r\n");
  if (!h.keep_alive)
    w.put("Connection: close\r\n");
  else if (h.http10)
    w.put("Connection: keep-alive\r\n");
  w.put("\r\n");
  return w.ok ? out.size() - w.left : 0;
}

}  // namespace zcnet::http

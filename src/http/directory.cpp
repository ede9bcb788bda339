#include "http/directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "http/path.hpp"
#include "http/response.hpp"
#include "sys/anonymous_file.hpp"

namespace zcnet::http {

namespace detail {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace detail

namespace {

Plan small_body_response(ResponseHead& h, std::string_view extra_field, std::string_view body,
                         bool head_only, std::span<char> out) {
  h.content_length = body.size();
  Plan p;
  p.status = h.status;
  p.keep_alive = h.keep_alive;
  std::size_t n = format_head(h, std::time(nullptr), out);
  // format_head ends in the blank line: the extra field goes in front of it.
  if (n < 2 || n - 2 + extra_field.size() + 2 + body.size() > out.size())
    return plan_error(414, false, head_only, out);  // a target too long to answer with
  n -= 2;
  std::memcpy(out.data() + n, extra_field.data(), extra_field.size());
  n += extra_field.size();
  std::memcpy(out.data() + n, "\r\n", 2);
  n += 2;
  if (!head_only) {
    std::memcpy(out.data() + n, body.data(), body.size());
    n += body.size();
  }
  p.head_bytes = n;
  return p;
}

}  // namespace

Plan plan_directory_redirect(const Request& req, bool keep_alive, bool head_only,
                             std::span<char> out) {
  const std::string_view target = origin_form(req.target);
  const std::size_t q = target.find_first_of("?#");
  const std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  query = query.substr(0, query.find('#'));
  // Not a hot path (a client that forgot a slash): one small allocation is fine here.
  // "//docs" names the directory docs, but "Location: //docs/" would send a browser to a host
  // named docs: the leading slashes collapse to one, and a backslash (which browsers read as a
  // slash there) is percent-encoded.
  std::string local = "/";
  for (char c : path.substr(std::min(path.find_first_not_of('/'), path.size())))
    local += c == '\\' ? std::string_view("%5C") : std::string_view(&c, 1);
  const std::string field = fmt::format("Location: {}/{}\r\n", local, query);
  for (char c : field.substr(0, field.size() - 2))
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return plan_error(400, false, head_only, out);
  ResponseHead h;
  h.status = 301;
  h.keep_alive = keep_alive;
  h.http10 = req.minor == 0;
  h.content_type = "text/plain; charset=utf-8";
  return small_body_response(h, field, "301 Moved Permanently\n", head_only, out);
}

Plan plan_listing(const Site& site, const char* rel, bool keep_alive, bool http10, bool head_only,
                  std::span<char> out) {
  auto dir = site.open_file(rel);
  if (!dir)
    return plan_error(status_for_open_error(dir.error().code()), keep_alive, head_only, out);
  DIR* stream = ::fdopendir(dir->get());
  if (!stream) return plan_error(500, keep_alive, head_only, out);
  const int dfd = dir->release();  // the stream owns it now
  struct Entry {
    std::string name;
    bool is_dir;
  };
  std::vector<Entry> entries;
  while (const dirent* e = ::readdir(stream)) {
    std::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    if (name.front() == '.' && !site.options().allow_dotfiles) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
      struct stat st {};
      is_dir = ::fstatat(dfd, e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
    }
    entries.push_back({std::string(name), is_dir});
  }
  ::closedir(stream);
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });

  const std::string shown = detail::html_escape(std::string("/") + rel + (*rel ? "/" : ""));
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {0}</title></head>\n"
      "<body><h1>Index of {0}</h1>\n<ul>\n",
      shown);
  if (*rel) html += "<li><a href=\"../\">../</a></li>\n";
  for (const auto& e : entries) {
    const char* slash = e.is_dir ? "/" : "";
    fmt::format_to(std::back_inserter(html), "<li><a href=\"./{}{}\">{}{}</a></li>\n",
                   detail::percent_encode(e.name), slash, detail::html_escape(e.name), slash);
  }
  html += "</ul></body></html>\n";

  ResponseHead h;
  h.status = 200;
  h.keep_alive = keep_alive;
  h.http10 = http10;
  h.content_type = "text/html; charset=utf-8";
  h.content_length = html.size();
  Plan p;
  p.status = 200;
  p.keep_alive = keep_alive;
  p.head_bytes = format_head(h, std::time(nullptr), out);
  if (head_only) return p;
  auto body = sys::anonymous_file("zcnet-listing");
  if (!body) return plan_error(500, keep_alive, head_only, out);
  std::size_t off = 0;
  while (off < html.size()) {
    ssize_t n =
        ::pwrite(body->get(), html.data() + off, html.size() - off, static_cast<off_t>(off));
    if (n <= 0) return plan_error(500, keep_alive, head_only, out);
    off += static_cast<std::size_t>(n);
  }
  p.file = std::move(*body);
  p.offset = 0;
  p.length = html.size();
  return p;
}

}  // namespace zcnet::http

// `zcnet load --http`: one keep-alive GET and its response, read to the last body byte. The head
// is parsed for the status and Content-Length only; the body is read and dropped.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include "bench/load_run.hpp"

namespace zcnet::cli {

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

struct Head {
  unsigned status = 0;
  std::optional<std::uint64_t> content_length;
  bool chunked = false, close = false;
};

// `head`: the bytes up to and without the blank line that ends it.
Result<Head> parse_head(std::string_view head, const std::string& peer) {
  Head h;
  const std::size_t eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
    return Error(
        EPROTO, "load",
        fmt::format("{}: not an HTTP/1.x status line: '{}'", peer, status_line.substr(0, 64)));
  auto [_, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, h.status);
  if (ec != std::errc{}) return Error(EPROTO, "load", peer + ": bad status code");
  std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), n);
      if (r.ec != std::errc{} || r.ptr != value.data() + value.size())
        return Error(EPROTO, "load", fmt::format("{}: bad Content-Length '{}'", peer, value));
      h.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      h.chunked = true;
    } else if (iequals(name, "connection") && iequals(value, "close")) {
      h.close = true;
    }
  }
  return h;
}

// One read into s.scratch (at most `want` bytes), waiting for readiness first if there is none.
// The bytes are valid until the caller next suspends.
Task<Result<std::size_t>> read_some(LoadState& s, int fd, std::size_t want, const IoOptions& io) {
  for (;;) {
    const ssize_t n = ::read(fd, s.scratch.data(), std::min(want, s.scratch.size()));
    if (n >= 0) co_return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return last_error("read", s.args.connect);
    auto ready = co_await s.loop.readable(fd, io);
    if (!ready) co_return Error(ready.error().code(), "read", s.args.connect);
  }
}

}  // namespace

std::string http_get(std::string_view path, std::string_view host) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zcnet-load\r\n\r\n", path, host);
}

Task<Result<HttpResponse>> http_exchange(LoadState& s, int fd, const std::string& request,
                                         const IoOptions& io) {
  const std::string& peer = s.args.connect;
  auto w = co_await s.loop.write_all(fd, std::as_bytes(std::span(request)), io);
  if (!w) co_return Error(w.error().code(), "write", peer);
  // The head's bytes while it is incomplete; empty (no allocation) when it arrives in one read.
  std::string partial;
  for (;;) {
    auto n = co_await read_some(s, fd, s.scratch.size(), io);
    if (!n) co_return std::move(n).error();
    if (*n == 0)
      co_return Error(ECONNRESET, "load",
                      fmt::format("{}: the server closed the connection before a response", peer));
    std::string_view got(reinterpret_cast<const char*>(s.scratch.data()), *n);
    std::string_view all = got;
    if (!partial.empty()) {
      partial.append(got);
      all = partial;
    }
    const std::size_t end = all.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (partial.empty()) partial.assign(got);
      if (partial.size() > kMaxHead)
        co_return Error(EMSGSIZE, "load", peer + ": response head over 16 KiB");
      continue;
    }
    auto head = parse_head(all.substr(0, end), peer);
    if (!head) co_return std::move(head).error();
    if (head->chunked || (!head->content_length && head->status != 204 && head->status != 304))
      co_return Error(EPROTO, "load",
                      fmt::format("{}: status {} without Content-Length (chunked or close-"
                                  "delimited bodies are not read)",
                                  peer, head->status));
    const std::uint64_t length = head->content_length.value_or(0);
    const std::uint64_t early = all.size() - (end + 4);
    if (early > length)
      co_return Error(
          EPROTO, "load",
          fmt::format("{}: {} B after a body of Content-Length {}", peer, early - length, length));
    std::uint64_t left = length - early;
    while (left > 0) {
      auto r = co_await read_some(
          s, fd, static_cast<std::size_t>(std::min<std::uint64_t>(left, s.scratch.size())), io);
      if (!r) co_return std::move(r).error();
      if (*r == 0)
        co_return Error(ECONNRESET, "load",
                        fmt::format("{}: short response, the server closed after {} of {} B", peer,
                                    length - left, length));
      left -= *r;
    }
    if (head->close)
      co_return Error(ECONNRESET, "load",
                      fmt::format("{}: status {} with Connection: close", peer, head->status));
    co_return HttpResponse{head->status, length};
  }
}

}  // namespace zcnet::cli

// The request-target normalizer (http/path.hpp) on arbitrary targets; the first byte holds the
// options (bit 0: allow_dotfiles), the rest is the target. Checked:
// - the verdict (status, path, trailing_slash) equals that of an independent reference written
//   from the contract: RFC 3986 absolute-form parsing, percent-decoding that refuses malformed
//   escapes, encoded slashes and dots and control bytes, remove_dot_segments (5.2.4) that
//   refuses to climb above the root, empty segments ignored as the filesystem ignores them, and
//   dotfiles 404 on the resolved path (a 400 anywhere in the target wins over a 404);
// - a resolved path has no leading '/', no empty, "." or ".." segment, no control byte, no '%'
//   that did not come from "%25" (no escape, "%2f" among them, is left undecoded), and is
//   NUL-terminated at its size;
// - an output buffer as long as the target is never too small (no 414), an 8-byte one is never
//   written past and answers 414 or the same as the big one, and an empty one 400 or 414;
// - origin_form returns the target itself, or a suffix of it (or "/") naming an origin-form path.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/path.hpp"

namespace {

using namespace zcnet::http;

struct Verdict {
  int status = 0;
  std::string path;
  bool trailing_slash = false;
};

std::string lower(std::string_view s) {
  std::string l(s);
  for (char& c : l)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return l;
}

// RFC 3986 3.2: the authority runs to the first '/', '?' or '#'; an empty path is "/".
std::string reference_origin_form(std::string_view t) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (lower(t.substr(0, scheme.size())) != scheme) continue;
    std::string_view rest = t.substr(scheme.size());
    const std::size_t end = rest.find_first_of("/?#");
    if (end == std::string_view::npos) return "/";
    rest.remove_prefix(end);
    return rest.front() == '/' ? std::string(rest) : "/" + std::string(rest);
  }
  return std::string(t);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

struct Segment {
  std::string text;
  bool escaped_dot = false;
};

// Decodes one raw segment; false if it holds a malformed escape, an encoded '/' or a control
// byte (raw or encoded).
bool decode(std::string_view raw, Segment& seg) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (raw.size() - i < 3) return false;
      const int hi = hex_digit(raw[i + 1]), lo = hex_digit(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '/') return false;
      if (c == '.') seg.escaped_dot = true;
      i += 2;
    }
    if (is_control(c)) return false;
    seg.text.push_back(c);
  }
  return true;
}

Verdict reference_normalize(std::string_view target, bool allow_dotfiles) {
  const std::string origin = reference_origin_form(target);
  std::string_view path = origin;
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/') return {400, {}, false};
  std::vector<Segment> raw_segments;
  for (std::string_view rest = path.substr(1);;) {
    const std::size_t slash = rest.find('/');
    Segment seg;
    if (!decode(rest.substr(0, slash), seg)) return {400, {}, false};
    raw_segments.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::vector<std::string> stack;
  for (const Segment& seg : raw_segments) {
    const bool dot = seg.text == "." || seg.text == "..";
    if (dot && seg.escaped_dot) return {400, {}, false};
    if (seg.text.empty() || seg.text == ".") continue;
    if (seg.text == "..") {
      if (stack.empty()) return {400, {}, false};
      stack.pop_back();
      continue;
    }
    stack.push_back(seg.text);
  }
  Verdict v;
  const std::string& last = raw_segments.back().text;
  v.trailing_slash = last.empty() || last == "." || last == "..";
  for (const std::string& s : stack) {
    if (!allow_dotfiles && s.front() == '.') v.status = 404;
    if (!v.path.empty()) v.path.push_back('/');
    v.path += s;
  }
  return v;
}

std::size_t count(std::string_view s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string_view::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

// The shape of a resolved path, for a 0 and a 404 alike.
void check_resolved(std::string_view target, std::span<const char> out, NormalizedPath p,
                    bool allow_dotfiles) {
  FUZZ_CHECK(p.size < out.size() && out[p.size] == '\0', "NUL-terminated at size");
  const std::string_view path(out.data(), p.size);
  for (std::size_t begin = 0; begin < path.size();) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    const std::string_view seg = path.substr(begin, end - begin);
    FUZZ_CHECK(!seg.empty(), "no leading '/' and no empty segment");
    FUZZ_CHECK(seg != "." && seg != "..", "no dot segment");
    FUZZ_CHECK(p.status != 0 || allow_dotfiles || seg.front() != '.', "no dotfile unless allowed");
    FUZZ_CHECK(end + 1 != path.size(), "no trailing '/'");
    begin = end + 1;
  }
  for (char c : path) FUZZ_CHECK(!is_control(c), "no NUL or control byte");
  FUZZ_CHECK(count(path, "%") <= count(target, "%25"), "every '%' decoded from \"%25\"");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  PathOptions options;
  options.allow_dotfiles = (data[0] & 1) != 0;
  const std::string_view target(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::string_view origin = origin_form(target);
  if (origin != target) {
    const bool suffix = origin.data() >= target.data() &&
                        origin.data() + origin.size() == target.data() + target.size();
    FUZZ_CHECK(origin == "/" || suffix, "origin_form is a suffix of the target or \"/\"");
    FUZZ_CHECK(!origin.empty() && origin.front() == '/', "origin_form starts with '/'");
  }

  // Exactly as long as the target (plus the NUL), on the heap: ASan sees any write past it.
  std::vector<char> big(target.size() + 1);
  const NormalizedPath p = normalize_target(target, big, options);
  FUZZ_CHECK(p.status == 0 || p.status == 400 || p.status == 404 || p.status == 414,
             "status is 0, 400, 404 or 414");
  FUZZ_CHECK(p.status != 414, "a buffer as long as the target is long enough");
  if (p.status == 0 || p.status == 404) check_resolved(target, big, p, options.allow_dotfiles);

  const Verdict want = reference_normalize(target, options.allow_dotfiles);
  FUZZ_CHECK(p.status == want.status, "status as the reference");
  if (p.status == 0) {
    FUZZ_CHECK(std::string_view(big.data(), p.size) == want.path, "path as the reference");
    FUZZ_CHECK(p.trailing_slash == want.trailing_slash, "trailing_slash as the reference");
  }

  constexpr std::size_t kSmall = 8, kGuard = 16;
  char small[kSmall + kGuard];
  std::memset(small, 0xa5, sizeof small);
  const NormalizedPath s = normalize_target(target, std::span<char>(small, kSmall), options);
  for (std::size_t i = kSmall; i < sizeof small; ++i)
    FUZZ_CHECK(static_cast<unsigned char>(small[i]) == 0xa5, "no write past a small buffer");
  FUZZ_CHECK(s.status == 414 || s.status == p.status, "a small buffer: 414 or the same verdict");
  if (s.status == 0 || s.status == 404) {
    FUZZ_CHECK(small[s.size] == '\0', "NUL-terminated in a small buffer");
    FUZZ_CHECK(std::string_view(small, s.size) == std::string_view(big.data(), p.size),
               "a small buffer holds the same path");
  }

  const NormalizedPath e = normalize_target(target, std::span<char>(), options);
  FUZZ_CHECK(e.status == 400 || e.status == 414, "an empty buffer: 400 or 414");
  return 0;
}

#include "http/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace zcnet::http {

Plan plan_status(ResponseHead& h, bool head_only, std::span<char> out) {
  char body[64];
  auto b = fmt::format_to_n(body, sizeof body, "{} {}\n", h.status, reason_phrase(h.status));
  const std::size_t body_len = std::min(b.size, sizeof body);
  h.content_type = "text/plain; charset=utf-8";
  h.content_length = body_len;
  Plan p;
  p.status = h.status;
  p.keep_alive = h.keep_alive;
  p.head_bytes = format_head(h, std::time(nullptr), out);
  if (p.head_bytes == 0) return p;  // cannot happen with the reserved head space
  if (!head_only && p.head_bytes + body_len <= out.size()) {
    std::memcpy(out.data() + p.head_bytes, body, body_len);
    p.head_bytes += body_len;
  }
  return p;
}

Plan plan_error(int status, bool keep_alive, bool head_only, std::span<char> out) {
  ResponseHead h;
  h.status = status;
  h.keep_alive = keep_alive;
  // An error does not know the request's version: say keep-alive explicitly, as an HTTP/1.0
  // client needs to hear it (harmless to 1.1); "close" is always said.
  h.http10 = keep_alive;
  h.allow = status == 405;
  return plan_status(h, head_only, out);
}

}  // namespace zcnet::http

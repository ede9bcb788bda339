// The HTTP/1.1 request parser (http/request.hpp) on arbitrary bytes, under the default limits
// and under small ones (picked by the first byte), with the properties a server relies on:
// - every outcome is Incomplete, Complete or an Error with a status the server can send;
// - a Complete request consumed at least one byte and no more than it was given, and every view
//   it returns lies inside those bytes;
// - parsing is incremental: no prefix of a Complete request is Complete or an Error (a server
//   that reads a request in pieces sees the same request as one that reads it whole), and the
//   request parsed from its exact bytes is the same again;
// - a request with a body says so through has_body() consistently with its framing fields.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/request.hpp"

namespace {

using zcnet::http::ParseLimits;
using zcnet::http::ParseResult;
using zcnet::http::ParseStatus;
using zcnet::http::Request;

bool inside(std::string_view v, std::span<const char> in) {
  if (v.empty()) return true;
  return v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size();
}

bool same(const Request& a, const Request& b) {
  return a.method == b.method && a.method_name == b.method_name && a.target == b.target &&
         a.minor == b.minor && a.host == b.host && a.range == b.range &&
         a.content_length == b.content_length && a.transfer_encoding == b.transfer_encoding &&
         a.keep_alive == b.keep_alive && a.header_count == b.header_count;
}

void check(std::span<const char> in, const ParseLimits& limits) {
  Request req;
  const ParseResult r = zcnet::http::parse_request(in, limits, req);
  switch (r.status) {
    case ParseStatus::Incomplete:
      return;
    case ParseStatus::Error:
      FUZZ_CHECK(r.http_status == 400 || r.http_status == 414 || r.http_status == 431 ||
                     r.http_status == 505,
                 "an error status the parser documents");
      return;
    case ParseStatus::Complete:
      break;
  }
  FUZZ_CHECK(r.consumed > 0 && r.consumed <= in.size(), "consumed within the input");
  for (std::string_view v :
       {req.method_name, req.target, req.host, req.connection, req.range, req.if_range,
        req.if_none_match, req.if_modified_since, req.traceparent, req.tracestate})
    FUZZ_CHECK(inside(v, in.first(r.consumed)), "a view inside the consumed bytes");
  FUZZ_CHECK(!req.method_name.empty() && !req.target.empty(), "a request has a method and target");
  FUZZ_CHECK(req.minor == 0 || req.minor == 1, "HTTP/1.0 or HTTP/1.1");
  FUZZ_CHECK(req.has_body() == (req.transfer_encoding || req.content_length.value_or(0) > 0),
             "has_body follows the framing fields");

  // Exactly the consumed bytes parse to the same request.
  Request again;
  const ParseResult whole = zcnet::http::parse_request(in.first(r.consumed), limits, again);
  FUZZ_CHECK(whole.status == ParseStatus::Complete && whole.consumed == r.consumed,
             "the consumed bytes alone are the same complete request");
  FUZZ_CHECK(same(req, again), "the same fields from the consumed bytes alone");

  // Shorter prefixes are not yet a request, and not yet an error either.
  for (std::size_t cut : {r.consumed - 1, r.consumed / 2, std::size_t{1}}) {
    if (cut == 0 || cut >= r.consumed) continue;
    Request part;
    const ParseResult p = zcnet::http::parse_request(in.first(cut), limits, part);
    FUZZ_CHECK(p.status == ParseStatus::Incomplete, "a prefix of a request is incomplete");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const char> in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    check(in, ParseLimits{});
  } else {
    // Small limits, so the 414 and 431 paths are reached by short inputs.
    check(in, ParseLimits{.max_request_line = 16u + (data[0] >> 4),
                          .max_header_bytes = 64u + (data[0] >> 1),
                          .max_headers = 1u + (data[0] >> 5)});
  }
  return 0;
}

// parse_request: RFC 9112 request lines and fields, parsed in place, with the server's limits.
#include <gtest/gtest.h>

#include <string>

#include "http/request.hpp"

namespace zcnet::http {
namespace {

ParseResult parse(std::string_view s, Request& r, ParseLimits l = {}) {
  return parse_request(std::span<const char>(s.data(), s.size()), l, r);
}

TEST(HttpRequestParser, SimpleGet_CompleteWithFieldsInPlace) {
  std::string in = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\nGET /next";
  Request r;
  auto p = parse(in, r);
  ASSERT_EQ(p.status, ParseStatus::Complete);
  EXPECT_EQ(p.consumed, in.find("GET /next"));
  EXPECT_EQ(r.method, Method::Get);
  EXPECT_EQ(r.target, "/a/b?x=1");
  EXPECT_EQ(r.minor, 1);
  EXPECT_EQ(r.host, "h");
  EXPECT_EQ(r.range, "bytes=0-1");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_GE(r.target.data(), in.data());  // a view into the buffer, not a copy
  EXPECT_LT(r.target.data(), in.data() + in.size());
}

TEST(HttpRequestParser, PartialInput_IsIncomplete) {
  Request r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\n", r).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("GET / HT", r).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("", r).status, ParseStatus::Incomplete);
}

TEST(HttpRequestParser, LeadingEmptyLinesAndBareLf_AreAccepted) {
  Request r;
  auto p = parse("\r\n\nHEAD / HTTP/1.0\nX: y\n\n", r);
  ASSERT_EQ(p.status, ParseStatus::Complete);
  EXPECT_EQ(r.method, Method::Head);
  EXPECT_EQ(r.minor, 0);
}

TEST(HttpRequestParser, Http10_KeepAliveOnlyWhenAsked) {
  Request r;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r).status, ParseStatus::Complete);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", r).status,
            ParseStatus::Complete);
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpRequestParser, Http11_ConnectionCloseEndsKeepAlive) {
  Request r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", r).status,
            ParseStatus::Complete);
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpRequestParser, OtherMethod_ParsesAsOther) {
  Request r;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n", r).status, ParseStatus::Complete);
  EXPECT_EQ(r.method, Method::Other);
  EXPECT_EQ(r.method_name, "POST");
}

struct Bad {
  const char* in;
  int status;
};

class HttpRequestParserBad : public ::testing::TestWithParam<Bad> {};

TEST_P(HttpRequestParserBad, IsRefusedWithStatus) {
  Request r;
  auto p = parse(GetParam().in, r);
  EXPECT_EQ(p.status, ParseStatus::Error) << GetParam().in;
  EXPECT_EQ(p.http_status, GetParam().status) << GetParam().in;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, HttpRequestParserBad,
    ::testing::Values(Bad{"GET /\r\n\r\n", 400}, Bad{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
                      Bad{"GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
                      Bad{"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
                      Bad{"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
                      Bad{"GET / HTTP/1.1\r\n\r\n", 400},  // no Host
                      Bad{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},  // space before colon
                      Bad{"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400},
                      Bad{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400},
                      // Two Content-Length lines that disagree, and both framings at once.
                      Bad{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: "
                          "2\r\n\r\n",
                          400},
                      Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n",
                          400},
                      Bad{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-"
                          "Length: 0\r\n\r\n",
                          400},
                      // Bare CRs in a request whose lines never end: refused at once.
                      Bad{"GET / HTTP/1.1\rHost: x\r\r", 400},
                      Bad{"GET / HTTP/1.1\r\nHost: x\rY", 400}));

TEST(HttpRequestParser, RepeatedEqualContentLengths_AreOne) {
  Request r;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", r)
                .status,
            ParseStatus::Complete);
  EXPECT_EQ(r.content_length, 3u);
  EXPECT_TRUE(r.has_body());
}

TEST(HttpRequestParser, ACrAtTheEndMayStillBeALineEnd) {
  Request r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r", r).status, ParseStatus::Incomplete);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r", r).status, ParseStatus::Incomplete);
}

TEST(HttpRequestParser, MethodsAreCaseSensitive_UnknownOnesAreUnknown) {
  Request r;
  ASSERT_EQ(parse("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", r).status, ParseStatus::Complete);
  EXPECT_EQ(r.method, Method::Unknown);
  ASSERT_EQ(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", r).status, ParseStatus::Complete);
  EXPECT_EQ(r.method, Method::Unknown);
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"}) {
    ASSERT_EQ(parse(std::string(m) + " / HTTP/1.1\r\nHost: h\r\n\r\n", r).status,
              ParseStatus::Complete);
    EXPECT_EQ(r.method, Method::Other) << m;
  }
}

TEST(HttpRequestParser, ARefusedRequestKeepsAValidMethodAndTarget) {
  Request r;
  EXPECT_EQ(parse("GET /x HTTP/3.0\r\nHost: h\r\n\r\n", r).http_status, 505);
  EXPECT_EQ(r.method_name, "GET");
  EXPECT_EQ(r.target, "/x");
  EXPECT_EQ(parse("GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", r).http_status, 400);
  EXPECT_EQ(r.method_name, "GET");
  EXPECT_TRUE(r.target.empty());  // not a valid target: not kept for the log
}

TEST(HttpRequestParser, RequestLineTooLong_Is414_EvenBeforeItEnds) {
  ParseLimits l;
  l.max_request_line = 64;
  Request r;
  std::string in = "GET /" + std::string(100, 'a');
  EXPECT_EQ(parse(in, r, l).http_status, 414);
  EXPECT_EQ(parse(in + " HTTP/1.1\r\n\r\n", r, l).http_status, 414);
}

TEST(HttpRequestParser, HeaderBytesTooMany_Is431) {
  ParseLimits l;
  l.max_header_bytes = 256;
  Request r;
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(300, 'v');
  EXPECT_EQ(parse(in, r, l).http_status, 431);
  EXPECT_EQ(parse(in + "\r\n\r\n", r, l).http_status, 431);
}

TEST(HttpRequestParser, TooManyFields_Is431) {
  ParseLimits l;
  l.max_headers = 4;
  Request r;
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 4; ++i) in += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(in + "\r\n", r, l).http_status, 431);
}

TEST(HttpRequestParser, BodyIndicators_AreFlagged) {
  Request r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", r).status,
            ParseStatus::Complete);
  EXPECT_FALSE(r.has_body());
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", r).status,
            ParseStatus::Complete);
  EXPECT_TRUE(r.has_body());
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", r).status,
            ParseStatus::Complete);
  EXPECT_TRUE(r.has_body());
}

}  // namespace
}  // namespace zcnet::http

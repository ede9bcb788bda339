// Ranges (RFC 9110 14), conditionals (13), dates (5.6.7), MIME types and the formatted head.
#include "http/response.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace zcnet::http {
namespace {

using K = ByteRange::Kind;

TEST(HttpRange, SingleRanges_AreClippedToTheEnd) {
  auto r = parse_range("bytes=0-0", 100);
  EXPECT_EQ(r.kind, K::Partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 0u);
  r = parse_range("bytes=10-", 100);
  EXPECT_EQ(r.kind, K::Partial);
  EXPECT_EQ(r.first, 10u);
  EXPECT_EQ(r.last, 99u);
  r = parse_range("bytes=90-1000", 100);
  EXPECT_EQ(r.last, 99u);
  r = parse_range("Bytes = 5-6", 100);  // not "bytes=": ignored
  EXPECT_EQ(r.kind, K::Full);
}

TEST(HttpRange, SuffixRanges) {
  auto r = parse_range("bytes=-5", 100);
  EXPECT_EQ(r.kind, K::Partial);
  EXPECT_EQ(r.first, 95u);
  EXPECT_EQ(r.last, 99u);
  r = parse_range("bytes=-500", 100);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(parse_range("bytes=-0", 100).kind, K::Unsatisfiable);
}

TEST(HttpRange, Unsatisfiable) {
  EXPECT_EQ(parse_range("bytes=100-", 100).kind, K::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=200-300", 100).kind, K::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, K::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-1", 0).kind, K::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100).kind, K::Unsatisfiable);
}

TEST(HttpRange, InvalidOrMulti_MeansWholeFile) {
  for (const char* v : {"", "bytes=", "bytes=5", "bytes=5-1", "bytes=a-b", "items=0-1",
                        "bytes=0-1,5-6", "bytes=--1"})
    EXPECT_EQ(parse_range(v, 100).kind, K::Full) << v;
  EXPECT_EQ(parse_range("bytes=0-1, ,", 100).kind, K::Partial);  // empty list items ignored
}

TEST(HttpDate, FormatAndParse_RoundTripAllThreeForms) {
  std::array<char, 29> buf{};
  format_http_date(784111777, buf);
  EXPECT_EQ(std::string_view(buf.data(), 29), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_FALSE(parse_http_date("yesterday"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
}

Validators sample() {
  struct stat st {};
  st.st_size = 1234;
  st.st_mtim.tv_sec = 784111777;
  st.st_mtim.tv_nsec = 5;
  return validators_of(st);
}

TEST(HttpConditional, IfNoneMatch_WeakComparisonAndStar) {
  Validators v = sample();
  Request r;
  std::string tag(v.etag_view());
  r.if_none_match = tag;
  EXPECT_TRUE(not_modified(r, v));
  std::string list = "\"x\", W/" + tag;
  r.if_none_match = list;
  EXPECT_TRUE(not_modified(r, v));
  r.if_none_match = "*";
  EXPECT_TRUE(not_modified(r, v));
  r.if_none_match = "\"other\"";
  r.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_FALSE(not_modified(r, v));  // If-None-Match decides; If-Modified-Since is ignored
}

TEST(HttpConditional, IfModifiedSince) {
  Validators v = sample();
  Request r;
  r.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_TRUE(not_modified(r, v));
  r.if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT";
  EXPECT_FALSE(not_modified(r, v));
  r.if_modified_since = "garbage";
  EXPECT_FALSE(not_modified(r, v));
}

TEST(HttpConditional, IfRange_StrongEtagOrExactDate) {
  Validators v = sample();
  EXPECT_TRUE(if_range_allows("", v));
  EXPECT_TRUE(if_range_allows(v.etag_view(), v));
  EXPECT_FALSE(if_range_allows("W/" + std::string(v.etag_view()), v));
  EXPECT_FALSE(if_range_allows("\"other\"", v));
  EXPECT_TRUE(if_range_allows("Sun, 06 Nov 1994 08:49:37 GMT", v));
  EXPECT_FALSE(if_range_allows("Sun, 06 Nov 1994 08:49:38 GMT", v));
}

TEST(HttpMime, ByExtension) {
  EXPECT_EQ(mime_type("a/index.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type("x.png"), "image/png");
  EXPECT_EQ(mime_type("noext"), "application/octet-stream");
  EXPECT_EQ(mime_type("dir.d/file"), "application/octet-stream");
}

TEST(HttpHead, Format_206WithRangeAndHttp10KeepAlive) {
  Validators v = sample();
  ResponseHead h;
  h.status = 206;
  h.http10 = true;
  h.content_length = 2;
  h.content_type = "text/plain";
  h.validators = &v;
  h.content_range = ByteRange{K::Partial, 1, 2};
  h.representation_size = 1234;
  h.accept_ranges = true;
  char buf[1024];
  auto n = format_head(h, 784111777, buf);
  std::string s(buf, n);
  EXPECT_EQ(s.rfind("HTTP/1.1 206 Partial Content\r\n", 0), 0u) << s;
  EXPECT_NE(s.find("Content-Range: bytes 1-2/1234\r\n"), std::string::npos);
  EXPECT_NE(s.find("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos);
  EXPECT_NE(s.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(s.find("ETag: \""), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 4), "\r\n\r\n");
  char tiny[16];
  EXPECT_EQ(format_head(h, 0, tiny), 0u);
}

}  // namespace
}  // namespace zcnet::http

// The request fields a static server acts on (http/response.hpp), on arbitrary values: Range
// against a file size, HTTP dates, If-Range, If-None-Match and If-Modified-Since against a
// file's validators. Properties:
// - a Partial range lies inside the file, and an absent field means the whole file;
// - a date that parses formats back to an IMF-fixdate that parses to the same time;
// - a file's own ETag and Last-Modified always match it (If-Range allows the range,
//   If-None-Match and If-Modified-Since answer 304), and "*" matches any file.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/response.hpp"

namespace {

using namespace zcnet::http;

std::uint64_t take_u64(std::string_view& in) {
  std::uint64_t v = 0;
  const std::size_t n = in.size() < 8 ? in.size() : 8;
  std::memcpy(&v, in.data(), n);
  in.remove_prefix(n);
  return v;
}

void ranges(std::string_view value, std::uint64_t size) {
  const ByteRange r = parse_range(value, size);
  if (r.kind == ByteRange::Kind::Partial) {
    FUZZ_CHECK(r.first <= r.last && r.last < size, "a partial range inside the file");
  }
  FUZZ_CHECK(parse_range("", size).kind == ByteRange::Kind::Full, "no Range: the whole file");
}

void dates(std::string_view value) {
  const auto t = parse_http_date(value);
  if (!t) return;
  char text[29];
  const std::size_t n = format_http_date(*t, std::span<char, 29>(text));
  if (n == 0) return;  // a time the IMF-fixdate cannot show (year past 9999)
  FUZZ_CHECK(n == 29, "an IMF-fixdate is 29 bytes");
  const auto back = parse_http_date(std::string_view(text, n));
  FUZZ_CHECK(back && *back == *t, "a formatted date parses to the same time");
}

void validators(std::string_view value, std::uint64_t mtime, std::uint64_t size) {
  struct stat st {};
  st.st_mtim.tv_sec = static_cast<time_t>(mtime % (253402300799ull + 1));  // up to 9999-12-31
  st.st_mtim.tv_nsec = static_cast<long>(size % 1000000000);
  st.st_size = static_cast<off_t>(size >> 1);
  const Validators v = validators_of(st);
  FUZZ_CHECK(if_range_allows("", v), "no If-Range: the range applies");
  FUZZ_CHECK(if_range_allows(v.etag_view(), v), "the file's own ETag allows the range");

  Request req;
  req.if_none_match = v.etag_view();
  FUZZ_CHECK(not_modified(req, v), "the file's own ETag is not modified");
  req.if_none_match = "*";
  FUZZ_CHECK(not_modified(req, v), "If-None-Match: * matches an existing file");
  req.if_none_match = {};
  req.if_modified_since = v.last_modified_view();
  FUZZ_CHECK(not_modified(req, v), "the file's own Last-Modified is not modified");

  // Arbitrary values: no crash, and If-None-Match decides before If-Modified-Since.
  req.if_none_match = value;
  req.if_modified_since = value;
  (void)not_modified(req, v);
  (void)if_range_allows(value, v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::uint64_t file_size = take_u64(in);
  const std::uint64_t mtime = take_u64(in);
  ranges(in, file_size);
  ranges(in, file_size & 0xffff);  // small files, where suffixes and clipping matter
  dates(in);
  validators(in, mtime, file_size);
  (void)mime_type(in);
  return 0;
}

// The small text helpers of the HTTP code: ASCII case folding and comparison, optional-whitespace
// trimming, tokens and comma-separated lists (RFC 9110 5.6), and digit and hex parsing. Views in,
// views out: nothing allocates.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace zcnet::http {

// ASCII only: 'A'-'Z' become 'a'-'z', every other byte stays.
char ascii_lower(char c) noexcept;
// Equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b) noexcept;
// `s` starts with `prefix`, ignoring ASCII case.
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;

// RFC 9110 5.6.2: a tchar, and a token (one or more tchars).
bool is_tchar(char c) noexcept;
bool is_token(std::string_view s) noexcept;

// `s` without leading and trailing OWS (spaces and tabs, RFC 9110 5.6.3).
std::string_view trim_ows(std::string_view s) noexcept;

// The first item of the comma-separated `list`, trimmed of OWS (possibly empty), and `list`
// advanced past it and its comma: `while (!list.empty()) { auto item = pop_list_item(list); }`.
std::string_view pop_list_item(std::string_view& list) noexcept;
// True if `list` (a comma-separated field value such as Connection) holds `token`, ignoring case.
bool has_token(std::string_view list, std::string_view token) noexcept;

// 1*DIGIT as a number, saturating at 2^63 (a huge position is simply past every end); nullopt
// if `s` is empty or holds anything but digits.
std::optional<std::uint64_t> parse_digits(std::string_view s) noexcept;
// The value of one hex digit (either case), or -1.
int hex_value(char c) noexcept;

}  // namespace zcnet::http

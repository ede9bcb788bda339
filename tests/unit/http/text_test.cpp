// The HTTP text helpers: case folding, OWS, tokens, comma lists, digits and hex.
#include "http/text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zcnet::http {
namespace {

TEST(HttpText, AsciiLower_FoldsOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower('A'), 'a');
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('a'), 'a');
  EXPECT_EQ(ascii_lower('@'), '@');  // just below 'A'
  EXPECT_EQ(ascii_lower('['), '[');  // just above 'Z'
  EXPECT_EQ(ascii_lower('\xC4'), '\xC4');
}

TEST(HttpText, Iequals_IgnoresCaseButNotLength) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("host", "hosts"));
  EXPECT_FALSE(iequals("host", "hust"));
}

TEST(HttpText, IstartsWith_ComparesThePrefixIgnoringCase) {
  EXPECT_TRUE(istarts_with("HTTP://h/a", "http://"));
  EXPECT_TRUE(istarts_with("bytes=0-1", "BYTES="));
  EXPECT_FALSE(istarts_with("byte", "bytes="));
  EXPECT_FALSE(istarts_with("/a", "http://"));
}

TEST(HttpText, IsToken_AcceptsTcharsOnly) {
  EXPECT_TRUE(is_token("GET"));
  EXPECT_TRUE(is_token("X-Custom_1.2~!#$%&'*+^`|"));
  EXPECT_FALSE(is_token(""));
  for (const char* bad : {"a b", "a:b", "a\tb", "(a)", "a\"b", "a,b", "a/b"})
    EXPECT_FALSE(is_token(bad)) << bad;
  EXPECT_FALSE(is_token(std::string_view("a\0b", 3)));
}

TEST(HttpText, TrimOws_RemovesSpacesAndTabsAtBothEnds) {
  EXPECT_EQ(trim_ows(" \t value \t"), "value");
  EXPECT_EQ(trim_ows("a b"), "a b");
  EXPECT_EQ(trim_ows(" \t "), "");
  EXPECT_EQ(trim_ows("\r\nx"), "\r\nx");  // CR and LF are not OWS
}

TEST(HttpText, PopListItem_WalksTheItemsTrimmedIncludingEmptyOnes) {
  std::string_view list = " a ,b,, c\t,";
  std::vector<std::string_view> items;
  while (!list.empty()) items.push_back(pop_list_item(list));
  EXPECT_EQ(items, (std::vector<std::string_view>{"a", "b", "", "c"}));
}

TEST(HttpText, HasToken_FindsAWholeItemIgnoringCase) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("Close", "close"));
  EXPECT_FALSE(has_token("closed", "close"));
  EXPECT_FALSE(has_token("", "close"));
}

TEST(HttpText, ParseDigits_ReadsDigitsOnly) {
  EXPECT_EQ(parse_digits("0"), 0u);
  EXPECT_EQ(parse_digits("1048576"), 1048576u);
  EXPECT_FALSE(parse_digits(""));
  EXPECT_FALSE(parse_digits("12a"));
  EXPECT_FALSE(parse_digits("-1"));
  EXPECT_FALSE(parse_digits(" 1"));
}

TEST(HttpText, ParseDigits_SaturatesAtTwoToTheSixtyThird) {
  EXPECT_EQ(parse_digits("999999999999999999"), 999999999999999999u);  // 18 digits: exact
  EXPECT_EQ(parse_digits("99999999999999999999999"), std::uint64_t{1} << 63);
}

TEST(HttpText, HexValue_BothCasesAndMinusOneOtherwise) {
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('9'), 9);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('%'), -1);
}

}  // namespace
}  // namespace zcnet::http

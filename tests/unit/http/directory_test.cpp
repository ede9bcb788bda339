// Listing helpers: names are HTML-escaped for display and percent-encoded for hrefs.
#include "http/directory.hpp"

#include <gtest/gtest.h>

namespace zcnet::http {
namespace {

TEST(DirectoryListing, HtmlEscape_EveryMarkupCharacter) {
  EXPECT_EQ(detail::html_escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;");
  EXPECT_EQ(detail::html_escape("plain name.txt"), "plain name.txt");
}

TEST(DirectoryListing, PercentEncode_AllButUnreserved) {
  EXPECT_EQ(detail::percent_encode("a b%c/d?e#f:g\"<>&'"),
            "a%20b%25c%2Fd%3Fe%23f%3Ag%22%3C%3E%26%27");
  EXPECT_EQ(detail::percent_encode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(detail::percent_encode("\xc3\xa9"), "%C3%A9");  // UTF-8 bytes one by one
}

}  // namespace
}  // namespace zcnet::http

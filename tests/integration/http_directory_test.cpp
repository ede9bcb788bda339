// Directories and symlinks: a 301 to the slash form, --autoindex listings with hostile names,
// --allow-symlinks-outside (and ".." refused with it as without it).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

class HttpDirectory : public HttpServeTest {
 protected:
  // Names a listing must escape: markup, ampersands, quotes, spaces, percent signs.
  const std::vector<std::string> hostile_{"<script>alert(1)<\\script>.txt",
                                          "a&b.txt",
                                          "quote\"s'.txt",
                                          "with space.txt",
                                          "100%.txt",
                                          "q?x#y.txt"};
  void make_listing_dir() {
    namespace fs = std::filesystem;
    fs::create_directories(root_ + "/list/sub dir");
    for (const auto& n : hostile_) std::ofstream(root_ + "/list/" + n) << "name: " << n;
    std::ofstream(root_ + "/list/.hidden") << "h";
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpDirectory,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpDirectory, NoTrailingSlash_301ToSlashForm_QueryKept) {
  std::filesystem::create_directories(root_ + "/a b");
  start();
  auto c = client();
  auto r = c.request("/docs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("Location"), "/docs/");
  EXPECT_EQ(r->header("Content-Length"), std::to_string(r->body.size()));
  EXPECT_EQ(c.request("/docs?x=1&y=%20z")->header("Location"), "/docs/?x=1&y=%20z");
  EXPECT_EQ(c.request("/a%20b")->header("Location"), "/a%20b/");  // encoding untouched
  EXPECT_EQ(c.request("/empty-dir")->status, 301);
  EXPECT_EQ(c.request("http://h/docs")->header("Location"), "/docs/");  // absolute-form
  // "Location: //docs/" would send a browser to a host named docs: one leading slash only, and
  // a backslash (a slash to browsers there) encoded.
  EXPECT_EQ(c.request("//docs")->header("Location"), "/docs/");
  EXPECT_EQ(c.request("///docs?q")->header("Location"), "/docs/?q");
  std::filesystem::create_directories(root_ + "/\\evil.example");
  EXPECT_EQ(c.request("/\\evil.example")->header("Location"), "/%5Cevil.example/");
  EXPECT_EQ(c.request("/%5Cevil.example")->header("Location"), "/%5Cevil.example/");
  auto head = c.request("/docs", {}, "HEAD");
  EXPECT_EQ(head->status, 301);
  EXPECT_EQ(c.request("/docs/")->status, 200);  // still in step after HEAD
  EXPECT_EQ(c.request("/empty-dir/")->status, 403);
  EXPECT_EQ(c.request("/hello.txt")->body, "hello, world\n");
}

TEST_P(HttpDirectory, Http10_RedirectClosesUnlessKeepAlive) {
  start();
  auto c = client();
  c.send("GET /docs HTTP/1.0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(3)));
}

TEST_P(HttpDirectory, Autoindex_HostileNamesEscapedEncodedSortedDotfilesHidden) {
  make_listing_dir();
  start({"--autoindex"});
  auto c = client();
  auto r = c.request("/list/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type"), "text/html; charset=utf-8");
  const std::string& html = r->body;
  EXPECT_EQ(html.find("<script>"), std::string::npos) << html;
  EXPECT_NE(html.find(">&lt;script&gt;alert(1)&lt;\\script&gt;.txt<"), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"./%3Cscript%3Ealert%281%29%3C%5Cscript%3E.txt\""), std::string::npos);
  EXPECT_NE(html.find(">a&amp;b.txt<"), std::string::npos);
  EXPECT_NE(html.find(">quote&quot;s&#39;.txt<"), std::string::npos);
  EXPECT_NE(html.find("href=\"./quote%22s%27.txt\""), std::string::npos);
  EXPECT_NE(html.find("href=\"./with%20space.txt\""), std::string::npos);
  EXPECT_NE(html.find("href=\"./100%25.txt\""), std::string::npos);
  EXPECT_NE(html.find("href=\"./q%3Fx%23y.txt\""), std::string::npos);
  EXPECT_NE(html.find("href=\"./sub%20dir/\">sub dir/<"), std::string::npos);
  EXPECT_EQ(html.find(".hidden"), std::string::npos);
  // Sorted bytewise, and every href leads back to its file.
  auto encode = [](const std::string& n) {
    std::string enc;
    for (unsigned char ch : n) {
      if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
        enc += static_cast<char>(ch);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", ch);
        enc += hex;
      }
    }
    return enc;
  };
  std::vector<std::string> names = hostile_;
  names.push_back("sub dir");
  std::sort(names.begin(), names.end());
  std::size_t at = 0;
  for (const auto& n : names) {
    const auto pos = html.find("href=\"./" + encode(n));
    ASSERT_NE(pos, std::string::npos) << n;
    EXPECT_GT(pos, at) << n << " out of order";
    at = pos;
  }
  for (const auto& n : hostile_) {
    auto f = c.request("/list/" + encode(n));
    ASSERT_TRUE(f) << n;
    EXPECT_EQ(f->status, 200) << n;
    EXPECT_EQ(f->body, "name: " + n);
  }
  auto head = c.request("/list/", {}, "HEAD");
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), std::to_string(html.size()));
  EXPECT_EQ(c.request("/list/sub%20dir/")->status, 200);  // an empty directory lists too
  EXPECT_EQ(c.request("/docs/")->body.size(), 100u);      // index.html still wins
}

TEST_P(HttpDirectory, Autoindex_AllowDotfiles_ShowsThem) {
  make_listing_dir();
  start({"--autoindex", "--allow-dotfiles"});
  auto r = client().request("/list/");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("href=\"./.hidden\""), std::string::npos) << r->body;
}

TEST_P(HttpDirectory, NoAutoindex_DirectoryWithoutIndex_403) {
  make_listing_dir();
  start();
  EXPECT_EQ(client().request("/list/")->status, 403);
}

TEST_P(HttpDirectory, SymlinkOutside_RefusedByDefault_AllowedWithOption) {
  // Relative links that stay inside always work. (An absolute link that points inside is
  // refused by openat2's RESOLVE_BENEATH but allowed by the portable realpath check, so only the
  // option's behaviour is asserted for it.)
  std::filesystem::create_symlink("../hello.txt", root_ + "/docs/inside-link");
  std::filesystem::create_symlink("../outside.txt", root_ + "/relative-escape");
  std::filesystem::create_symlink(root_ + "/hello.txt", root_ + "/absolute-inside");
  start();
  EXPECT_EQ(client().request("/escape-link")->status, 403);
  EXPECT_EQ(client().request("/relative-escape")->status, 403);
  EXPECT_EQ(client().request("/docs/inside-link")->body, "hello, world\n");
  EXPECT_EQ(server_->terminate(), 0);
  start({"--allow-symlinks-outside"});
  auto r = client().request("/escape-link");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "outside the root\n");
  EXPECT_EQ(client().request("/relative-escape")->body, "outside the root\n");
  EXPECT_EQ(client().request("/docs/inside-link")->body, "hello, world\n");
  EXPECT_EQ(client().request("/absolute-inside")->body, "hello, world\n");
}

TEST_P(HttpDirectory, AllowSymlinksOutside_TraversalStillRefused) {
  start({"--allow-symlinks-outside"});
  for (const char* t :
       {"/../outside.txt", "/docs/../../outside.txt", "/%2e%2e/outside.txt",
        "/docs/%2e%2e/%2e%2e/outside.txt", "/..%2foutside.txt", "/docs%2f..%2f..%2foutside.txt",
        "/hello.txt%00.png", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/.%2e/outside.txt"}) {
    auto r = client().request(t);
    ASSERT_TRUE(r) << t;
    EXPECT_GE(r->status, 400) << t;
    EXPECT_EQ(r->body.find("outside the root"), std::string::npos) << t;
  }
}

}  // namespace
}  // namespace zcnet::test

// normalize_target and sys::open_beneath: every way out of the root is refused.
#include "http/path.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sys/open_beneath.hpp"

namespace zcnet::http {
namespace {

NormalizedPath norm(std::string_view t, std::string& out, PathOptions o = {}) {
  char buf[256];
  auto p = normalize_target(t, buf, o);
  out = p.status == 0 ? std::string(buf, p.size) : std::string();
  return p;
}

TEST(HttpPath, Normalize_DecodesAndRemovesDotSegments) {
  std::string out;
  EXPECT_EQ(norm("/a/./b/../c%20d?x=/../..", out).status, 0);
  EXPECT_EQ(out, "a/c d");
  EXPECT_EQ(norm("//a///b/", out).status, 0);
  EXPECT_EQ(out, "a/b");
  EXPECT_TRUE(norm("/a/b/", out).trailing_slash);
  EXPECT_EQ(norm("/", out).status, 0);
  EXPECT_EQ(out, "");
  EXPECT_EQ(norm("http://example.com/x/y", out).status, 0);
  EXPECT_EQ(out, "x/y");
}

TEST(HttpPath, OriginForm_HostPartEndsAtSlashQueryOrFragment) {
  EXPECT_EQ(origin_form("http://h:80/a?b"), "/a?b");
  EXPECT_EQ(origin_form("HTTPS://h"), "/");
  // The query of "http://h?/etc/passwd" is "/etc/passwd"; the path is the root.
  EXPECT_EQ(origin_form("http://h?/etc/passwd"), "/");
  EXPECT_EQ(origin_form("http://#h:80/x"), "/");
  EXPECT_EQ(origin_form("/a?b"), "/a?b");
  std::string out;
  EXPECT_EQ(norm("http://h?/etc/passwd", out).status, 0);
  EXPECT_EQ(out, "");
}

TEST(HttpPath, Normalize_RefusesEveryEscape) {
  std::string out;
  for (const char* t :
       {"/..", "/../etc/passwd", "/a/../../etc", "/%2e%2e/etc/passwd", "/a/%2e%2e/b", "/.%2e/x",
        "/%2E./x", "/a%2fb", "/a%2F..%2Fb", "/a%00b", "/a%0ab", "/%zz", "/a%2", "etc/passwd", "*"})
    EXPECT_EQ(norm(t, out).status, 400) << t;
}

TEST(HttpPath, Normalize_HidesDotfiles_UnlessAllowed) {
  std::string out;
  EXPECT_EQ(norm("/.env", out).status, 404);
  EXPECT_EQ(norm("/a/.git/config", out).status, 404);
  EXPECT_EQ(norm("/.git/..", out).status, 0);  // resolved away: the root itself
  PathOptions allow;
  allow.allow_dotfiles = true;
  EXPECT_EQ(norm("/.env", out, allow).status, 0);
}

TEST(HttpPath, Normalize_TooLong_Is414) {
  char buf[16];
  EXPECT_EQ(normalize_target("/" + std::string(40, 'a'), buf).status, 414);
}

class HttpPathOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zcnet-path-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    namespace fs = std::filesystem;
    fs::create_directories(base_ + "/root/sub");
    std::ofstream(base_ + "/root/sub/f.txt") << "in";
    std::ofstream(base_ + "/secret.txt") << "out";
    fs::create_symlink(base_ + "/secret.txt", base_ + "/root/abs-link");
    fs::create_symlink("../secret.txt", base_ + "/root/rel-link");
    fs::create_symlink("sub/f.txt", base_ + "/root/inside-link");
    root_.reset(::open((base_ + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  std::string base_;
  UniqueFd root_;
};

TEST_F(HttpPathOpen, FileBeneathRoot_Opens) {
  EXPECT_TRUE(sys::open_beneath(root_.get(), "sub/f.txt"));
  EXPECT_TRUE(sys::open_beneath(root_.get(), "inside-link"));
  EXPECT_TRUE(sys::open_beneath(root_.get(), ""));  // the root itself
}

TEST_F(HttpPathOpen, SymlinksLeavingRoot_AreRefusedAs403) {
  for (const char* p : {"abs-link", "rel-link"}) {
    auto f = sys::open_beneath(root_.get(), p);
    ASSERT_FALSE(f) << p;
    EXPECT_EQ(status_for_open_error(f.error().code()), 403) << p << f.error().message();
  }
}

TEST_F(HttpPathOpen, RealpathFallback_RefusesTheSameLinks) {
  EXPECT_TRUE(sys::open_checked_by_realpath(root_.get(), "sub/f.txt"));
  EXPECT_TRUE(sys::open_checked_by_realpath(root_.get(), "inside-link"));
  for (const char* p : {"abs-link", "rel-link"}) {
    auto f = sys::open_checked_by_realpath(root_.get(), p);
    ASSERT_FALSE(f) << p;
    EXPECT_EQ(f.error().code(), EXDEV);
  }
}

TEST_F(HttpPathOpen, Missing_Is404) {
  auto f = sys::open_beneath(root_.get(), "nope");
  ASSERT_FALSE(f);
  EXPECT_EQ(status_for_open_error(f.error().code()), 404);
}

}  // namespace
}  // namespace zcnet::http

// The worker's open-file cache: hits, revalidation against the path (modified, replaced by
// rename, deleted), the LRU bound, owners, and entries that outlive their place in the cache.
#include "http/file_cache.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace zcnet::http {
namespace {

using namespace std::chrono_literals;

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zcnet-fcache-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    root_ = UniqueFd(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ + "/" + rel, std::ios::binary | std::ios::trunc) << text;
  }
  // Opens and caches `rel` as plan_response does on a miss.
  FileRef open_into(FileCache& cache, const std::string& rel, Clock::time_point now) {
    UniqueFd fd(::openat(root_.get(), rel.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd) << rel;
    struct stat st {};
    EXPECT_EQ(::fstat(fd.get(), &st), 0);
    return cache.insert(rel, std::move(fd), st, now);
  }
  static std::string read_all(int fd, std::size_t n) {
    std::string s(n, '\0');
    EXPECT_EQ(::pread(fd, s.data(), n, 0), static_cast<ssize_t>(n));
    return s;
  }

  std::string dir_;
  UniqueFd root_;
  Clock::time_point t0_ = Clock::now();
};

FileCache::Limits limits(std::size_t entries, Clock::duration valid) {
  FileCache::Limits l;
  l.max_entries = entries;
  l.valid = valid;
  return l;
}

TEST_F(FileCacheTest, Hit_ReturnsTheSameOpenFileWithItsHeaderFields) {
  write("a.html", "hello");
  FileCache cache(limits(8, 1s));
  auto first = open_into(cache, "a.html", t0_);
  const int fd = first.fd();
  first.reset();
  auto hit = cache.find(root_.get(), "a.html", t0_ + 10ms);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit.fd(), fd);
  EXPECT_EQ(hit->size, 5u);
  EXPECT_EQ(hit->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(hit->validators.etag_view().front(), '"');
  EXPECT_FALSE(cache.find(root_.get(), "missing.html", t0_));
}

TEST_F(FileCacheTest, ModifiedFile_SeenAtRevalidation_NewBytesAndNewEtag) {
  write("f.txt", "old");
  FileCache cache(limits(8, 100ms));
  std::string old_etag(open_into(cache, "f.txt", t0_)->validators.etag_view());
  write("f.txt", "new content");
  // Inside the validity window the entry is trusted (like nginx's open_file_cache_valid) ...
  EXPECT_TRUE(cache.find(root_.get(), "f.txt", t0_ + 50ms));
  // ... after it, one fstatat sees the new size and drops it.
  EXPECT_FALSE(cache.find(root_.get(), "f.txt", t0_ + 100ms));
  auto fresh = open_into(cache, "f.txt", t0_ + 100ms);
  EXPECT_EQ(read_all(fresh.fd(), fresh->size), "new content");
  EXPECT_NE(fresh->validators.etag_view(), old_etag);
}

TEST_F(FileCacheTest, SameSizeNewMtime_IsAChangeToo) {
  write("f.txt", "aaaa");
  FileCache cache(limits(8, 0ms));
  std::string old_etag(open_into(cache, "f.txt", t0_)->validators.etag_view());
  write("f.txt", "bbbb");
  const timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};  // mtime moved explicitly
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/f.txt").c_str(), times, 0), 0);
  EXPECT_FALSE(cache.find(root_.get(), "f.txt", t0_));
  auto fresh = open_into(cache, "f.txt", t0_);
  EXPECT_EQ(read_all(fresh.fd(), 4), "bbbb");
  EXPECT_NE(fresh->validators.etag_view(), old_etag);
}

TEST_F(FileCacheTest, ReplacedByRename_IsAnotherInode_Dropped) {
  write("f.txt", "first");
  write("next.tmp", "first");  // same size: only the inode tells them apart
  FileCache cache(limits(8, 0ms));
  auto held = open_into(cache, "f.txt", t0_);
  ASSERT_EQ(::renameat(root_.get(), "next.tmp", root_.get(), "f.txt"), 0);
  EXPECT_FALSE(cache.find(root_.get(), "f.txt", t0_));
  // A response still holding the old entry reads the old file to its end, never a mix.
  EXPECT_EQ(read_all(held.fd(), 5), "first");
}

TEST_F(FileCacheTest, DeletedFile_Dropped) {
  write("gone.txt", "x");
  FileCache cache(limits(8, 0ms));
  open_into(cache, "gone.txt", t0_);
  ASSERT_EQ(::unlinkat(root_.get(), "gone.txt", 0), 0);
  EXPECT_FALSE(cache.find(root_.get(), "gone.txt", t0_));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FileCacheTest, Bounded_LeastRecentlyUsedLeavesFirst) {
  FileCache cache(limits(3, 1h));
  for (int i = 0; i < 3; ++i) {
    write("f" + std::to_string(i), std::string(static_cast<std::size_t>(i + 1), 'x'));
    open_into(cache, "f" + std::to_string(i), t0_);
  }
  EXPECT_TRUE(cache.find(root_.get(), "f0", t0_));  // f1 is now the least recently used
  for (int i = 3; i < 6; ++i) {
    write("f" + std::to_string(i), "y");
    open_into(cache, "f" + std::to_string(i), t0_);
    EXPECT_EQ(cache.size(), 3u);
    if (i == 3) {
      EXPECT_FALSE(cache.find(root_.get(), "f1", t0_));
      EXPECT_TRUE(cache.find(root_.get(), "f0", t0_));
    }
  }
  // f0 was used last before f3..f5 came in, so f2 and f3 left instead of it.
  EXPECT_FALSE(cache.find(root_.get(), "f2", t0_));
  EXPECT_FALSE(cache.find(root_.get(), "f3", t0_));
  for (const char* kept : {"f0", "f4", "f5"}) EXPECT_TRUE(cache.find(root_.get(), kept, t0_));
}

TEST_F(FileCacheTest, EvictedWhileReferenced_FdStaysOpenUntilReleased) {
  write("big", "0123456789");
  write("other", "z");
  FileCache cache(limits(1, 1h));
  auto held = open_into(cache, "big", t0_);
  const int fd = held.fd();
  open_into(cache, "other", t0_);  // evicts "big" from the cache, not from the response
  EXPECT_FALSE(cache.find(root_.get(), "big", t0_));
  EXPECT_GE(::fcntl(fd, F_GETFD), 0);
  EXPECT_EQ(read_all(held.fd(), 10), "0123456789");
  held.reset();
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // the last reference closed it
}

TEST_F(FileCacheTest, ZeroEntries_CachesNothing) {
  write("f", "abc");
  FileCache cache(limits(0, 1h));
  auto ref = open_into(cache, "f", t0_);
  EXPECT_EQ(read_all(ref.fd(), 3), "abc");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find(root_.get(), "f", t0_));
}

TEST_F(FileCacheTest, AnotherOwner_EmptiesTheCacheAndTakesItsLimits) {
  write("f", "abc");
  FileCache cache(limits(8, 1h));
  auto first = std::make_shared<int>(1), second = std::make_shared<int>(2);
  cache.bind(first, limits(8, 1h));
  open_into(cache, "f", t0_);
  cache.bind(first, limits(8, 1h));  // same owner: kept
  EXPECT_EQ(cache.size(), 1u);
  cache.bind(second, limits(2, 5s));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.limits().max_entries, 2u);
}

}  // namespace
}  // namespace zcnet::http

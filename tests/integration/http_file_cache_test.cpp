// zcnet serve's open-file cache and single-write small bodies, seen from a client: a changed,
// replaced or deleted file is noticed once the revalidation window (1 s by default) has passed,
// a response in flight never mixes two versions, and small bodies stay byte-exact with HEAD,
// ranges and conditionals, on each loop backend.
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class HttpFileCache : public HttpServeTest {
 protected:
  // Longer than the default open_file_cache_valid (1 s): the next request revalidates.
  static void outwait_revalidation() { std::this_thread::sleep_for(1200ms); }
  std::uint64_t hash_vec(const std::vector<std::byte>& v) { return hash_bytes(v.data(), v.size()); }
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpFileCache,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpFileCache, ModifiedBetweenRequests_NewBytesAndNewEtag) {
  const std::string path = root_ + "/page.bin";
  write_file(path, pattern(3000, 1));
  start();
  auto c = client();
  auto before = c.request("/page.bin");
  ASSERT_TRUE(before);
  EXPECT_EQ(hash_of(before->body), hash_vec(pattern(3000, 1)));
  write_file(path, pattern(5000, 2));
  outwait_revalidation();
  auto after = c.request("/page.bin");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->header("Content-Length"), "5000");
  EXPECT_EQ(hash_of(after->body), hash_vec(pattern(5000, 2)));
  EXPECT_NE(after->header("ETag"), before->header("ETag"));
  // The old validator no longer matches: a full response, not 304.
  auto cond = c.request("/page.bin", "If-None-Match: " + before->header("ETag") + "\r\n");
  ASSERT_TRUE(cond);
  EXPECT_EQ(cond->status, 200);
}

TEST_P(HttpFileCache, ReplacedByRename_InFlightResponseKeepsOldBytes_NextGetsNew) {
  const std::string path = root_ + "/big.bin";
  write_file(path, pattern(kBig, 7));
  start();
  auto slow = client(16 * 1024);  // a small receive buffer: the response stays in flight
  ASSERT_TRUE(slow.send("GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::this_thread::sleep_for(200ms);  // the server has opened the file and started sending
  write_file(root_ + "/big.tmp", pattern(kBig, 8));
  ASSERT_EQ(std::rename((root_ + "/big.tmp").c_str(), path.c_str()), 0);
  outwait_revalidation();
  auto fresh = client().request("/big.bin");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(hash_of(fresh->body), hash_vec(pattern(kBig, 8)));
  // The response that started before the rename ends with the old file's bytes only.
  auto old = slow.read_response();
  ASSERT_TRUE(old);
  EXPECT_EQ(old->body.size(), kBig);
  EXPECT_EQ(hash_of(old->body), hash_vec(pattern(kBig, 7)));
}

TEST_P(HttpFileCache, Deleted_404AfterRevalidation) {
  const std::string path = root_ + "/gone.txt";
  write_file(path, pattern(100, 3));
  start();
  auto c = client();
  auto r = c.request("/gone.txt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  outwait_revalidation();
  r = c.request("/gone.txt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_P(HttpFileCache, ShrunkInsideTheWindow_SmallBodyReplannedNeverShort) {
  const std::string path = root_ + "/shrink.bin";
  write_file(path, pattern(20000, 4));
  start();
  auto c = client();
  auto r = c.request("/shrink.bin");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->body.size(), 20000u);
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);  // no wait: the cached size is now wrong
  r = c.request("/shrink.bin");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "100");
  auto p = pattern(20000, 4);
  EXPECT_EQ(hash_of(r->body), hash_bytes(p.data(), 100));
  EXPECT_TRUE(c.request("/f1.bin")) << "the connection stays usable";
}

TEST_P(HttpFileCache, ConcurrentWorkers_EveryConnectionSeesTheChange) {
  const std::string path = root_ + "/shared.bin";
  write_file(path, pattern(4096, 5));
  start();  // two workers, each with its own cache
  std::vector<HttpClient> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(client());
    auto r = clients.back().request("/shared.bin");
    ASSERT_TRUE(r);
    EXPECT_EQ(hash_of(r->body), hash_vec(pattern(4096, 5)));
  }
  write_file(path, pattern(6000, 6));
  outwait_revalidation();
  for (auto& c : clients) {
    auto r = c.request("/shared.bin");
    ASSERT_TRUE(r);
    EXPECT_EQ(hash_of(r->body), hash_vec(pattern(6000, 6)));
  }
}

// The single-write path: up to 32 KiB by default, up to one chunk (256 KiB) with read-write
// forced; both sides of each threshold, with GET, HEAD, 304 and a range.
TEST_P(HttpFileCache, SmallBodies_AroundTheSingleWriteThresholds_ByteExact) {
  const std::vector<std::size_t> sizes = {
      0, 1, 4095, 4096, 32 * 1024, 32 * 1024 + 1, 64 * 1024 + 1, 256 * 1024, 256 * 1024 + 1};
  for (std::size_t n : sizes) write_file(root_ + "/s" + std::to_string(n), pattern(n, n + 11));
  for (const char* strategy : {"auto", "read-write", "sendfile"}) {
    start({"--strategy", strategy});
    auto c = client();
    for (std::size_t n : sizes) {
      const std::string target = "/s" + std::to_string(n);
      auto p = pattern(n, n + 11);
      auto r = c.request(target);
      ASSERT_TRUE(r) << strategy << " " << n;
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->header("Content-Length"), std::to_string(n));
      EXPECT_EQ(hash_of(r->body), hash_vec(p)) << strategy << " " << n;
      auto head = c.request(target, {}, "HEAD");
      ASSERT_TRUE(head);
      EXPECT_EQ(head->header("Content-Length"), std::to_string(n));
      EXPECT_TRUE(head->body.empty());
      auto nm = c.request(target, "If-None-Match: " + r->header("ETag") + "\r\n");
      ASSERT_TRUE(nm);
      EXPECT_EQ(nm->status, 304);
      EXPECT_TRUE(nm->body.empty());
      if (n >= 2) {
        auto part = c.request(target, "Range: bytes=1-" + std::to_string(n - 1) + "\r\n");
        ASSERT_TRUE(part);
        EXPECT_EQ(part->status, 206);
        EXPECT_EQ(hash_of(part->body), hash_bytes(p.data() + 1, n - 1)) << strategy << " " << n;
      }
    }
    EXPECT_EQ(server_->terminate(), 0) << strategy << server_->log();
  }
}

}  // namespace
}  // namespace zcnet::test

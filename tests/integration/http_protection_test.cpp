// zcnet serve against hostile or broken clients: slowloris, idle keep-alive, readers that stop,
// resets midway, truncated files, too many connections; then many honest clients at once, and a
// graceful SIGTERM.
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class HttpProtection : public HttpServeTest {};
INSTANTIATE_TEST_SUITE_P(Backends, HttpProtection,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpProtection, Slowloris_TrickledHeader_CutOffAtHeaderTimeout) {
  start({"--header-timeout", "1"});
  auto c = client();
  const std::string req =
      "GET /hello.txt HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (char ch : req) {
    if (!c.send(std::string_view(&ch, 1))) {
      cut = true;
      break;
    }
    if (c.closed_within(150ms)) {
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  // Others are still served.
  EXPECT_EQ(client().request("/hello.txt")->status, 200);
}

// The 408 and a refused request are logged like any response, with the method and target that
// had arrived valid.
TEST_P(HttpProtection, TimedOutAndRefusedRequests_AreLogged) {
  const std::string log = base_ + "/access.log";
  start({"--header-timeout", "1", "--access-log", log});
  {
    auto c = client();
    ASSERT_TRUE(c.send("GET /slow.txt HTTP/1.1\r\nHost: h\r\n"));  // never ends
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
  }
  {
    auto c = client();
    ASSERT_TRUE(c.send("GET /future.txt HTTP/3.0\r\nHost: h\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 505);
  }
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  std::ifstream in(log);
  const std::string lines((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(lines.find("\"GET /slow.txt HTTP/1.1\" 408 "), std::string::npos) << lines;
  EXPECT_NE(lines.find("\"GET /future.txt HTTP/1.1\" 505 "), std::string::npos) << lines;
}

TEST_P(HttpProtection, IdleKeepAlive_ClosedAfterKeepaliveTimeout) {
  start({"--keepalive-timeout", "1"});
  auto c = client();
  EXPECT_EQ(c.request("/hello.txt")->status, 200);
  EXPECT_FALSE(c.closed_within(300ms));
  EXPECT_TRUE(c.closed_within(3s));
}

TEST_P(HttpProtection, ReaderThatStops_ClosedAfterSendTimeout) {
  start({"--send-timeout", "1"});
  auto c = client(16 * 1024);
  ASSERT_TRUE(c.send("GET /f5242880.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::this_thread::sleep_for(3s);  // never read: the server's sends stall
  EXPECT_LT(c.drain(), kBig);       // what was buffered, then EOF: the response was cut
  EXPECT_EQ(client().request("/hello.txt")->status, 200);
}

TEST_P(HttpProtection, ClientResetsMidway_ServerKeepsServing) {
  start();
  for (int i = 0; i < 5; ++i) {
    auto c = client(16 * 1024);
    ASSERT_TRUE(c.send("GET /f5242880.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(c.recv_some(buf, sizeof buf), 0);
    c.reset();
  }
  auto c = client();
  auto r = c.request("/f5242880.bin");
  ASSERT_TRUE(r);
  EXPECT_EQ(hash_of(r->body), file_hash(kBig));
}

TEST_P(HttpProtection, FileTruncatedWhileSent_ResponseEndsAndIsLogged) {
  for (const char* strategy : {"auto", "sendfile", "read-write"}) {
    const std::string path = root_ + "/trunc.bin";
    write_file(path, pattern(kBig, 9));
    start({"--strategy", strategy});
    auto c = client(16 * 1024);
    ASSERT_TRUE(c.send("GET /trunc.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(c.recv_some(buf, sizeof buf), 0);
    ASSERT_EQ(::truncate(path.c_str(), 100 * 1024), 0);
    EXPECT_LT(c.drain(), kBig) << strategy;  // short, then closed: never a hang
    EXPECT_EQ(client().request("/hello.txt")->status, 200) << strategy;
    EXPECT_EQ(server_->terminate(), 0) << strategy;
    EXPECT_NE(server_->log().find("truncated"), std::string::npos) << strategy << server_->log();
  }
}

TEST_P(HttpProtection, MaxConnections_503BeyondThenRoomAgain) {
  start({"--max-connections", "2"});
  auto a = client();
  auto b = client();
  EXPECT_EQ(a.request("/hello.txt")->status, 200);
  EXPECT_EQ(b.request("/hello.txt")->status, 200);
  {
    auto c = client();
    auto r = c.read_response();  // refused before it asks
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(c.closed_within(3s));
  }
  a.reset();
  std::optional<HttpResponse> r;
  for (int i = 0; i < 50 && !(r && r->status == 200); ++i) {
    std::this_thread::sleep_for(50ms);
    auto d = client();
    r = d.request("/hello.txt");
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(HttpProtection, ConcurrentKeepAliveClients_200_AllByteExact) {
  start();
  constexpr int kClients = 200, kThreads = 8, kRequests = 3;
  std::atomic<int> exact{0}, wrong{0};
  const auto want = file_hash(65537);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Each thread opens its share first, so all 200 connections are open at once.
      std::vector<HttpClient> conns;
      for (int i = 0; i < kClients / kThreads; ++i) conns.emplace_back(server_->port());
      for (int k = 0; k < kRequests; ++k)
        for (auto& c : conns) {
          auto r = c.request("/f65537.bin");
          (r && r->status == 200 && hash_of(r->body) == want) ? ++exact : ++wrong;
        }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(exact.load(), kClients * kRequests);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(HttpProtection, Sigterm_ClosesIdleConnections_ExitsZero) {
  start();
  auto c = client();
  EXPECT_EQ(c.request("/hello.txt")->status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(c.closed_within(1s));
}

}  // namespace
}  // namespace zcnet::test

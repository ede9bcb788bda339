// zcnet serve when the server side fails: 500 (logged) for an unexpected open error, 403 for a
// special file or EACCES, HTTP/1.0 connection handling, a truncated file logged with its name
// and errno, and 1000 concurrent keep-alive clients each verifying what they got.
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class HttpErrors : public HttpServeTest {};
INSTANTIATE_TEST_SUITE_P(Backends, HttpErrors,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpErrors, UnixSocketFile_OpenFailsEnxio_500AndLogged) {
  // open(2) of a UNIX socket file fails with ENXIO: not a client error, so 500.
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = root_ + "/sock";
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  start();
  auto c = client();
  auto r = c.request("/sock");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(c.request("/hello.txt")->body, "hello, world\n");  // the connection goes on
  EXPECT_TRUE(server_->wait_for_log("500 for /sock")) << server_->log();
  EXPECT_NE(server_->log().find("ENXIO"), std::string::npos) << server_->log();
}

TEST_P(HttpErrors, Fifo_403_NeverBlocks) {
  ASSERT_EQ(::mkfifo((root_ + "/pipe").c_str(), 0644), 0);
  start();
  auto c = client();
  EXPECT_EQ(c.request("/pipe")->status, 403);
  EXPECT_EQ(c.request("/hello.txt")->status, 200);
}

TEST_P(HttpErrors, UnreadableFile_403) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file (CAP_DAC_OVERRIDE): no EACCES";
  const std::string path = root_ + "/locked.txt";
  std::ofstream(path) << "secret";
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  start();
  EXPECT_EQ(client().request("/locked.txt")->status, 403);
}

TEST_P(HttpErrors, Http10_CloseUnlessKeepAliveAsked) {
  start();
  {
    auto c = client();
    c.send("GET /hello.txt HTTP/1.0\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_EQ(r->body, "hello, world\n");
    EXPECT_TRUE(c.closed_within(3s));
  }
  {
    auto c = client();
    c.send("GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->header("Connection"), "keep-alive");
    c.send("HEAD /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    r = c.read_response(true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Content-Length"), "13");
    c.send("GET /hello.txt HTTP/1.0\r\n\r\n");  // no keep-alive this time: closed after
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.closed_within(3s));
  }
}

TEST_P(HttpErrors, FileTruncatedWhileSent_LogNamesFileAndErrno) {
  for (const char* strategy : {"auto", "sendfile", "splice", "read-write", "mmap"}) {
    const std::string path = root_ + "/trunc.bin";
    write_file(path, pattern(kBig, 9));
    start({"--strategy", strategy});
    auto c = client(16 * 1024);
    ASSERT_TRUE(c.send("GET /trunc.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(c.recv_some(buf, sizeof buf), 0);
    ASSERT_EQ(::truncate(path.c_str(), 100 * 1024), 0);
    EXPECT_LT(c.drain(), kBig) << strategy;
    EXPECT_EQ(client().request("/hello.txt")->status, 200) << strategy;
    ASSERT_TRUE(server_->wait_for_log("file truncated while sent")) << strategy << server_->log();
    const std::string log = server_->log();
    EXPECT_NE(log.find("/trunc.bin (trunc.bin)"), std::string::npos) << strategy << log;
    EXPECT_NE(log.find("ENODATA"), std::string::npos) << strategy << log;
    EXPECT_EQ(server_->terminate(), 0) << strategy;
  }
}

TEST_P(HttpErrors, ThousandConcurrentKeepAliveClients_AllByteExact) {
  // 1000 client sockets here and 1000 in the server: above the usual soft limit of 1024.
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max < 4096) GTEST_SKIP() << "open-file hard limit " << rl.rlim_max << " < 4096";
  const rlimit raised{std::min<rlim_t>(rl.rlim_max, 8192), rl.rlim_max};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  start();  // inherits the raised limit
  constexpr int kClients = 1000, kThreads = 10, kRequests = 2;
  std::atomic<int> exact{0}, wrong{0}, connected{0};
  const auto want = file_hash(65537);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Each thread opens its share first, so all 1000 connections are open at once.
      std::vector<HttpClient> conns;
      for (int i = 0; i < kClients / kThreads; ++i) conns.emplace_back(server_->port());
      ++connected;
      while (connected.load() < kThreads) std::this_thread::sleep_for(1ms);
      for (int k = 0; k < kRequests; ++k)
        for (auto& c : conns) {
          auto r = c.request("/f65537.bin");
          (r && r->status == 200 && hash_of(r->body) == want) ? ++exact : ++wrong;
        }
    });
  }
  for (auto& t : threads) t.join();
  ::setrlimit(RLIMIT_NOFILE, &rl);
  EXPECT_EQ(exact.load(), kClients * kRequests);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
}

}  // namespace
}  // namespace zcnet::test

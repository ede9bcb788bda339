// zcnet serve over real loopback sockets: statuses, headers, ranges, conditionals, HEAD,
// keep-alive and pipelining, on each loop backend.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "http_fixture.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::test {
namespace {

class HttpServe : public HttpServeTest {};
INSTANTIATE_TEST_SUITE_P(Backends, HttpServe,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpServe, Get_SmallFile_200WithEveryHeader) {
  start();
  auto c = client();
  auto r = c.request("/hello.txt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello, world\n");
  EXPECT_EQ(r->header("Content-Length"), "13");
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("Accept-Ranges"), "bytes");
  EXPECT_TRUE(r->has("Date"));
  EXPECT_TRUE(r->has("Last-Modified"));
  EXPECT_EQ(r->header("ETag").front(), '"');
}

TEST_P(HttpServe, Get_ManySizes_OnOneKeepAliveConnection_ByteExactByHash) {
  start();
  auto c = client();
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{65537}, kBig}) {
    auto r = c.request("/f" + std::to_string(n) + ".bin");
    ASSERT_TRUE(r) << n;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), n);
    EXPECT_EQ(hash_of(r->body), file_hash(n)) << n;
  }
}

// A body sent by sendfile goes out at once as far as the socket takes it; a reader that waits
// leaves the rest to a transfer that continues from the same offset (head and body once each).
TEST_P(HttpServe, Get_SlowReader_BodyFinishedAfterTheSocketFilled_ByteExact) {
  start();
  auto c = client(16 * 1024);
  ASSERT_TRUE(c.send("GET /f" + std::to_string(kBig) + ".bin HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the socket fills meanwhile
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), std::to_string(kBig));
  EXPECT_EQ(hash_of(r->body), file_hash(kBig));
  r = c.request("/f65537.bin");  // the same connection, a body the socket takes whole
  ASSERT_TRUE(r);
  EXPECT_EQ(hash_of(r->body), file_hash(65537));
}

TEST_P(HttpServe, Get_ForcedStrategies_ByteExact) {
  for (const char* s : {"read-write", "sendfile", "splice", "mmap"}) {
    start({"--strategy", s});
    auto c = client();
    auto r = c.request("/f65537.bin");
    ASSERT_TRUE(r) << s;
    EXPECT_EQ(hash_of(r->body), file_hash(65537)) << s;
    EXPECT_EQ(server_->terminate(), 0) << s << server_->log();
  }
}

TEST_P(HttpServe, Head_SendsHeadersButNoBody) {
  start();
  auto c = client();
  auto r = c.request("/f65537.bin", {}, "HEAD");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "65537");
  auto next = c.request("/hello.txt");  // a body after HEAD would corrupt this one
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "hello, world\n");
}

TEST_P(HttpServe, Statuses_404_403_405_AndDirectories) {
  start();
  auto c = client();
  EXPECT_EQ(c.request("/nope")->status, 404);
  EXPECT_EQ(c.request("/.secret")->status, 404);  // dotfiles hidden
  EXPECT_EQ(c.request("/empty-dir/")->status, 403);
  auto idx = c.request("/docs/");
  EXPECT_EQ(idx->status, 200);
  EXPECT_EQ(idx->header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(c.request("/docs")->status, 301);  // to "/docs/" (http_directory_test)
  auto post = c.request("/hello.txt", {}, "POST");
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("Allow"), "GET, HEAD");
  EXPECT_EQ(c.request("/escape-link")->status, 403);  // symlink out of the root
}

TEST_P(HttpServe, Traversal_EveryAttemptRefused) {
  start();
  for (const char* t :
       {"/../outside.txt", "/docs/../../outside.txt", "/%2e%2e/outside.txt",
        "/docs/%2e%2e/%2e%2e/outside.txt", "/..%2foutside.txt", "/docs%2f..%2f..%2foutside.txt",
        "/hello.txt%00.png", "//etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/escape-link"}) {
    auto c = client();
    auto r = c.request(t);
    ASSERT_TRUE(r) << t;
    EXPECT_GE(r->status, 400) << t;
    EXPECT_EQ(r->body.find("outside the root"), std::string::npos) << t;
  }
}

TEST_P(HttpServe, Conditionals_304WithValidators_NoBody) {
  start();
  auto c = client();
  auto full = c.request("/hello.txt");
  const std::string etag = full->header("ETag"), lm = full->header("Last-Modified");
  auto r = c.request("/hello.txt", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->header("ETag"), etag);
  EXPECT_TRUE(r->has("Date"));
  EXPECT_FALSE(r->has("Content-Length"));
  EXPECT_EQ(c.request("/hello.txt", "If-Modified-Since: " + lm + "\r\n")->status, 304);
  EXPECT_EQ(c.request("/hello.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n")->status,
            200);
  // If-None-Match that does not match wins over a matching If-Modified-Since.
  EXPECT_EQ(c.request("/hello.txt", "If-None-Match: \"nope\"\r\nIf-Modified-Since: " + lm + "\r\n")
                ->status,
            200);
  EXPECT_EQ(c.request("/hello.txt", "If-None-Match: *\r\n")->status, 304);
  EXPECT_EQ(c.request("/hello.txt")->body, "hello, world\n");  // still in step
}

TEST_P(HttpServe, Ranges_206_416_AndEdgeCases) {
  start();
  auto c = client();
  auto whole = pattern(kBig, kBig + 1);
  auto slice = [&](std::uint64_t a, std::uint64_t b) {
    return std::string(reinterpret_cast<const char*>(whole.data()) + a, b - a + 1);
  };
  auto r = c.request("/f5242880.bin", "Range: bytes=0-0\r\n");
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->header("Content-Range"), "bytes 0-0/5242880");
  EXPECT_EQ(r->body, slice(0, 0));
  r = c.request("/f5242880.bin", "Range: bytes=5242000-\r\n");
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, slice(5242000, kBig - 1));
  r = c.request("/f5242880.bin", "Range: bytes=-100\r\n");
  EXPECT_EQ(r->header("Content-Range"), "bytes 5242780-5242879/5242880");
  EXPECT_EQ(r->body, slice(kBig - 100, kBig - 1));
  r = c.request("/f5242880.bin", "Range: bytes=100-99999999\r\n");  // clipped at the end
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body.size(), kBig - 100);
  r = c.request("/f5242880.bin", "Range: bytes=5242880-\r\n");
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->header("Content-Range"), "bytes */5242880");
  EXPECT_EQ(c.request("/f0.bin", "Range: bytes=0-\r\n")->status, 416);
  EXPECT_EQ(c.request("/f4096.bin", "Range: bytes=-0\r\n")->status, 416);
  r = c.request("/f4096.bin", "Range: bytes=0-1,5-6\r\n");  // multi-range: whole file
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 4096u);
  EXPECT_EQ(c.request("/f4096.bin", "Range: bytes=9-1\r\n")->status, 200);  // invalid: ignored
  EXPECT_EQ(c.request("/f4096.bin", "Range: bytes=0-1\r\n", "HEAD")->status, 200);
  const std::string etag = c.request("/f4096.bin", {}, "HEAD")->header("ETag");
  EXPECT_EQ(c.request("/f4096.bin", "Range: bytes=0-1\r\nIf-Range: " + etag + "\r\n")->status, 206);
  EXPECT_EQ(c.request("/f4096.bin", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n")->status, 200);
}

TEST_P(HttpServe, MalformedRequests_GetTheirStatusAndClose) {
  start();
  struct Case {
    std::string raw;
    int status;
  };
  std::vector<Case> cases{
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // no Host
      {"GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505},
      {"GET /" + std::string(5000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'v') + "\r\n\r\n", 431},
      // A body is never read: the response closes the connection.
      {"POST /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde", 405},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
       405},
      // Conflicting framing (RFC 9112 6.1, 6.3).
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", 400},
      // Methods the server does not know (case-sensitive: "get" is not GET), RFC 9110 15.6.2.
      {"BREW /pot HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntea", 501},
  };
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 70; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  cases.push_back({many + "\r\n", 431});
  for (const auto& k : cases) {
    auto c = client();
    ASSERT_TRUE(c.send(k.raw));
    auto r = c.read_response();
    ASSERT_TRUE(r) << k.raw.substr(0, 40);
    EXPECT_EQ(r->status, k.status) << k.raw.substr(0, 40);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.closed_within(std::chrono::seconds(3)));
  }
}

// Refused at once, not at the header timeout: bare CRs can never become a request.
TEST_P(HttpServe, BareCrLineEnds_Are400AtOnce) {
  start({"--header-timeout", "30"});
  auto c = client();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET / HTTP/1.1\rHost: x\r\r"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_TRUE(c.closed_within(std::chrono::seconds(3)));
}

// Unknown methods are 501 and keep the connection; known ones the server does not allow, 405
// with Allow; a GET with a body gets its file and then the close (the body is never parsed as a
// next request).
TEST_P(HttpServe, MethodsAndBodies) {
  start();
  auto c = client();
  auto brew = c.request("/hello.txt", {}, "BREW");
  ASSERT_TRUE(brew);
  EXPECT_EQ(brew->status, 501);
  auto lower = c.request("/hello.txt", {}, "get");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->status, 501);
  auto del = c.request("/hello.txt", {}, "DELETE");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->header("Allow"), "GET, HEAD");
  auto ok = c.request("/hello.txt");  // the same connection still serves
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);

  auto d = client();
  ASSERT_TRUE(
      d.send("GET /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 31\r\n\r\n"
             "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto got = d.read_response();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->header("Connection"), "close");
  EXPECT_TRUE(d.closed_within(std::chrono::seconds(3)));  // no 404 for the "body"
}

TEST_P(HttpServe, KeepAlive_Http10AndConnectionClose) {
  start();
  {
    auto c = client();
    c.send("GET /hello.txt HTTP/1.0\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(c.closed_within(std::chrono::seconds(3)));
  }
  {
    auto c = client();
    c.send("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r = c.read_response();
    EXPECT_EQ(r->header("Connection"), "keep-alive");
    c.send("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(c.read_response()->status, 200);
  }
  {
    auto c = client();
    auto r = c.request("/hello.txt", "Connection: close\r\n");
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.closed_within(std::chrono::seconds(3)));
  }
}

TEST_P(HttpServe, Pipelining_SeveralRequestsInOneWrite_AnsweredInOrder) {
  start();
  auto c = client();
  std::string batch;
  for (const char* t : {"/hello.txt", "/f4096.bin", "/nope", "/f1.bin"})
    batch += std::string("GET ") + t + " HTTP/1.1\r\nHost: h\r\n\r\n";
  batch += "HEAD /f65537.bin HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_TRUE(c.send(batch));
  EXPECT_EQ(c.read_response()->body, "hello, world\n");
  EXPECT_EQ(hash_of(c.read_response()->body), file_hash(4096));
  EXPECT_EQ(c.read_response()->status, 404);
  EXPECT_EQ(hash_of(c.read_response()->body), file_hash(1));
  auto head = c.read_response(true);
  EXPECT_EQ(head->header("Content-Length"), "65537");
}

// The server's end of `c`'s connection, duplicated out of the server process (pidfd_getfd
// needs ptrace rights over it: root, or the same user without Yama's restrictions), or an
// invalid fd with the reason in `why`.
UniqueFd server_side_socket(pid_t server, const HttpClient& c, std::string& why) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  if (::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&mine), &len) != 0) {
    why = std::string("getsockname: ") + std::strerror(errno);
    return {};
  }
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, server, 0)));
  if (!pidfd) {
    why = std::string("pidfd_open: ") + std::strerror(errno);
    return {};
  }
  const std::string dir = "/proc/" + std::to_string(server) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string().rfind("socket:", 0) != 0) continue;
    const int target = std::stoi(entry.path().filename().string());
    UniqueFd dup(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), target, 0)));
    if (!dup) {
      why = std::string("pidfd_getfd: ") + std::strerror(errno);
      return {};
    }
    sockaddr_in peer{};
    len = sizeof peer;
    if (::getpeername(dup.get(), reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        peer.sin_family == AF_INET && peer.sin_port == mine.sin_port)
      return dup;
  }
  why = "no socket in the server is connected to the client's port";
  return {};
}

int tcp_option(int fd, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, IPPROTO_TCP, name, &v, &len) != 0) return -errno;
  return v;
}

// Every accepted socket gets TCP_NODELAY and --notsent-lowat (64 KiB by default); 0 leaves the
// kernel's default (the socket's own value stays 0: net.ipv4.tcp_notsent_lowat applies).
// Downloads stay byte-exact either way.
TEST_P(HttpServe, SocketOptions_NodelayAndNotsentLowatOnEveryAcceptedSocket) {
  for (auto [flag, want] :
       {std::pair<const char*, int>{nullptr, 65536}, {"16K", 16384}, {"0", 0}}) {
    const std::string name = flag ? flag : "default";
    std::vector<std::string> args;
    if (flag) args = {"--notsent-lowat", flag};
    start(args);
    auto c = client();
    auto r = c.request("/f" + std::to_string(kBig) + ".bin");
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(hash_of(r->body), file_hash(kBig)) << name;
    std::string why;
    const UniqueFd theirs = server_side_socket(server_->pid(), c, why);
    if (!theirs && why.rfind("pidfd_", 0) == 0)
      GTEST_SKIP() << "cannot look into the server's sockets here: " << why;
    ASSERT_TRUE(theirs) << why;
    EXPECT_EQ(tcp_option(theirs.get(), TCP_NOTSENT_LOWAT), want) << name;
    EXPECT_EQ(tcp_option(theirs.get(), TCP_NODELAY), 1) << name;
    EXPECT_EQ(server_->terminate(), 0) << server_->log();
  }
}

// A body that goes by sendfile gets --sendfile-notsent-lowat (16 KiB by default), one the server
// copies from its mapping (above --local-sendfile-max) --notsent-lowat again, on the same
// connection; 0 for the sendfile mark keeps --notsent-lowat, 0 for --notsent-lowat keeps the
// kernel's for both. Each body byte-exact.
TEST_P(HttpServe, SocketOptions_SendfileBodiesTakeTheirOwnMark) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  for (auto [flags, sendfile_mark, copy_mark] :
       {std::tuple<std::vector<std::string>, int, int>{{}, 16384, 65536},
        {{"--sendfile-notsent-lowat", "8K"}, 8192, 65536},
        {{"--sendfile-notsent-lowat", "0"}, 65536, 65536},
        {{"--notsent-lowat", "0"}, 0, 0}}) {
    const std::string name = flags.empty() ? "default" : flags[0] + " " + flags[1];
    start(flags);
    auto c = client();
    UniqueFd theirs;  // the server's end, found once the client has connected
    for (std::size_t size : {std::size_t{65537}, kBig, std::size_t{65537}}) {
      auto r = c.request("/f" + std::to_string(size) + ".bin");
      ASSERT_TRUE(r) << name;
      EXPECT_EQ(hash_of(r->body), file_hash(size)) << name;
      if (!theirs) {
        std::string why;
        theirs = server_side_socket(server_->pid(), c, why);
        if (!theirs && why.rfind("pidfd_", 0) == 0)
          GTEST_SKIP() << "cannot look into the server's sockets here: " << why;
        ASSERT_TRUE(theirs) << why;
      }
      EXPECT_EQ(tcp_option(theirs.get(), TCP_NOTSENT_LOWAT),
                size == kBig ? copy_mark : sendfile_mark)
          << name << ", after a body of " << size;
    }
    EXPECT_EQ(server_->terminate(), 0) << server_->log();
  }
}

TEST_P(HttpServe, AccessLog_OneLinePerRequest) {
  const std::string log = base_ + "/access.log";
  start({"--access-log", log});
  {
    auto c = client();
    c.request("/hello.txt");
    c.request("/nope");
  }
  EXPECT_EQ(server_->terminate(), 0);
  std::ifstream in(log);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("\"GET /hello.txt HTTP/1.1\" 200"), std::string::npos) << all;
  EXPECT_NE(all.find("\"GET /nope HTTP/1.1\" 404"), std::string::npos) << all;
}

}  // namespace
}  // namespace zcnet::test

// `zcnet load`, the load generator of `zcnet bench`: the protocol (8-byte little-endian length,
// then exactly that many bytes back) counted exactly against a server written here from the
// specification, an early close reported as an error without a hang, non-loopback peers refused,
// and a concurrency the open-file limit cannot hold refused with a clear message. And
// `zcnet load-server`, the bench's server on its own: byte-exact answers, a clean stop on SIGTERM.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cli_process.hpp"
#include "http_client.hpp"
#include "support.hpp"

namespace zcnet {
namespace {

using namespace std::chrono_literals;
using test::cli;
using test::read_all;
using test::spawn;

// Reads exactly buf.size() bytes; false at EOF or error.
bool read_exact(int fd, std::byte* buf, std::size_t n) {
  for (std::size_t got = 0; got < n;) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const std::byte* buf, std::size_t n) {
  for (std::size_t put = 0; put < n;) {
    const ssize_t w = ::send(fd, buf + put, n - put, MSG_NOSIGNAL);
    if (w <= 0) return false;
    put += static_cast<std::size_t>(w);
  }
  return true;
}

// The protocol's server side, one thread per connection: for each 8-byte little-endian length N,
// N bytes back. With `cut_after` set, the first response stops after that many bytes and the
// connection closes.
class ProtocolServer {
 public:
  ProtocolServer(int connections, std::optional<std::size_t> cut_after = std::nullopt)
      : listener_(test::listen_loopback()) {
    acceptor_ = std::thread([this, connections, cut_after] {
      std::vector<std::thread> conns;
      for (int i = 0; i < connections; ++i) {
        UniqueFd fd;
        try {
          fd = test::accept_one(listener_.fd.get());
        } catch (const std::exception&) {  // the destructor shut the listener: the client failed
          break;
        }
        conns.emplace_back([this, cut_after, f = std::move(fd)] { serve(f.get(), cut_after); });
      }
      for (auto& t : conns) t.join();
    });
  }
  // A client that never connects (it failed to start) must not hang the test: shutting the
  // listener down wakes the acceptor.
  ~ProtocolServer() {
    ::shutdown(listener_.fd.get(), SHUT_RDWR);
    join();
  }
  // Waits until every connection has ended; the counts are final afterwards.
  void join() {
    if (acceptor_.joinable()) acceptor_.join();
  }
  std::uint16_t port() const { return listener_.port; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t bytes_sent() const { return bytes_; }

 private:
  void serve(int fd, std::optional<std::size_t> cut_after) {
    std::vector<std::byte> payload = test::pattern(1 << 20);
    for (;;) {
      std::byte req[8];
      if (!read_exact(fd, req, sizeof req)) return;
      std::uint64_t n = 0;
      for (int i = 0; i < 8; ++i) n |= std::uint64_t(req[i]) << (8 * i);
      ++requests_;
      if (cut_after) n = std::min<std::uint64_t>(n, *cut_after);
      for (std::uint64_t left = n; left > 0;) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(left, payload.size()));
        if (!write_all(fd, payload.data(), chunk)) return;
        bytes_ += chunk;
        left -= chunk;
      }
      if (cut_after) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  test::Listener listener_;
  std::thread acceptor_;
  std::atomic<std::uint64_t> requests_{0}, bytes_{0};
};

TEST(LoadCommand, AgainstProtocolServer_CountsEveryByteExactly) {
  constexpr std::uint64_t kSize = 100'007;  // not a multiple of any buffer size
  constexpr int kConnections = 3, kRequests = 30;
  ProtocolServer server(kConnections);
  auto c = spawn({cli(), "load", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                  "--connections", std::to_string(kConnections), "--size", std::to_string(kSize),
                  "--requests", std::to_string(kRequests), "--json"});
  const std::string out = read_all(c.out.get());
  const std::string err = read_all(c.err.get());
  ASSERT_EQ(test::wait_exit(c.pid), 0) << err;
  server.join();
  EXPECT_EQ(server.requests(), static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(server.bytes_sent(), kRequests * kSize);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["connections"], kConnections);
  EXPECT_EQ(j["size"], kSize);
  EXPECT_EQ(j["transfers"], kRequests);
  EXPECT_EQ(j["bytes"], kRequests * kSize);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_GT(j["elapsed_s"].get<double>(), 0);
  EXPECT_GT(j["throughput_bytes_per_s"].get<double>(), 0);
  const auto& lat = j["latency_ns"];
  EXPECT_GT(lat["p50"].get<std::uint64_t>(), 0u);
  EXPECT_LE(lat["p50"].get<std::uint64_t>(), lat["p99"].get<std::uint64_t>());
  EXPECT_LE(lat["p99"].get<std::uint64_t>(), lat["p999"].get<std::uint64_t>());
  EXPECT_LE(lat["p999"].get<std::uint64_t>(), lat["max"].get<std::uint64_t>());
  for (const char* k : {"cpu_user_s", "cpu_sys_s", "voluntary_ctx", "involuntary_ctx"})
    EXPECT_TRUE(j.contains(k)) << k;
}

TEST(LoadCommand, DurationMode_CountsOnlyCompleteResponses) {
  constexpr std::uint64_t kSize = 65536;
  ProtocolServer server(2);
  auto c = spawn({cli(), "load", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                  "--connections", "2", "--size", "64K", "--duration", "0.2", "--json"});
  const std::string out = read_all(c.out.get());
  const std::string err = read_all(c.err.get());
  ASSERT_EQ(test::wait_exit(c.pid), 0) << err;
  server.join();
  auto j = nlohmann::json::parse(out);
  EXPECT_GT(j["transfers"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["bytes"], j["transfers"].get<std::uint64_t>() * kSize);
  // Every request the server saw was answered in full and counted (nothing cut within grace).
  EXPECT_EQ(server.requests(), j["transfers"].get<std::uint64_t>());
  EXPECT_EQ(server.bytes_sent(), j["bytes"].get<std::uint64_t>());
}

TEST(LoadCommand, ServerClosesMidResponse_ReportsErrorAndExitsNonZeroWithoutHanging) {
  ProtocolServer server(1, /*cut_after=*/1000);
  auto c = spawn({cli(), "load", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                  "--size", "1M", "--requests", "5", "--timeout", "20", "--json"});
  const std::string out = read_all(c.out.get());
  const std::string err = read_all(c.err.get());
  auto code = test::wait_exit_within(c.pid, 30s);
  ASSERT_TRUE(code.has_value()) << "zcnet load hung";
  EXPECT_NE(*code, 0);
  EXPECT_NE(err.find("short response"), std::string::npos) << err;
  EXPECT_NE(err.find("1000 of 1048576"), std::string::npos) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["transfers"], 0);
}

TEST(LoadCommand, SmallReadSize_StillCountsExactly_ZeroRefused) {
  constexpr std::uint64_t kSize = 100'007;
  ProtocolServer server(2);
  auto c = spawn({cli(), "load", "--connect", "127.0.0.1:" + std::to_string(server.port()),
                  "--connections", "2", "--size", std::to_string(kSize), "--requests", "10",
                  "--read-size", "777", "--json"});
  const std::string out = read_all(c.out.get());
  const std::string err = read_all(c.err.get());
  ASSERT_EQ(test::wait_exit(c.pid), 0) << err;
  server.join();
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["bytes"], 10 * kSize);
  EXPECT_EQ(server.bytes_sent(), 10 * kSize);

  auto z = spawn({cli(), "load", "--connect", "127.0.0.1:9", "--size", "4K", "--requests", "1",
                  "--read-size", "0"});
  const std::string zerr = read_all(z.err.get());
  read_all(z.out.get());
  EXPECT_EQ(test::wait_exit(z.pid), 1);
  EXPECT_NE(zerr.find("--read-size must be"), std::string::npos) << zerr;
}

// Reads the port `zcnet load-server` prints as its first stdout line.
int read_stdout_port(int fd) {
  std::string line;
  char ch;
  while (::read(fd, &ch, 1) == 1 && ch != '\n') line += ch;
  return line.empty() ? -1 : std::atoi(line.c_str());
}

// One load-protocol request for `n` bytes on `fd`, and the answer checked against the file's
// first `n` bytes by hash.
void ask_and_check(int fd, const test::TempFile& file, std::uint64_t n, std::string_view what) {
  std::byte req[8];
  for (int i = 0; i < 8; ++i) req[i] = std::byte((n >> (8 * i)) & 0xff);
  ASSERT_TRUE(write_all(fd, req, sizeof req)) << what << " " << n;
  std::vector<std::byte> got(n);
  ASSERT_TRUE(read_exact(fd, got.data(), got.size())) << what << " " << n;
  EXPECT_EQ(test::hash_bytes(got.data(), got.size()), file.hash(0, n)) << what << " " << n;
}

TEST(LoadServerCommand, AnswersByteExact_StopsCleanlyOnSigterm) {
  const auto file = test::TempFile::with_pattern(300'001, 7);
  for (const char* strategy : {"read-write", "auto"}) {
    auto c = spawn({cli(), "load-server", "--file", file.path(), "--strategy", strategy});
    const int port = read_stdout_port(c.out.get());
    ASSERT_GT(port, 0) << strategy;
    UniqueFd fd = test::connect_loopback(static_cast<std::uint16_t>(port));
    for (std::uint64_t n : {std::uint64_t{300'001}, std::uint64_t{1}, std::uint64_t{4096}})
      ask_and_check(fd.get(), file, n, strategy);
    fd.reset();
    ::kill(c.pid, SIGTERM);
    auto code = test::wait_exit_within(c.pid, 10s);
    ASSERT_TRUE(code.has_value()) << "load-server did not stop";
    EXPECT_EQ(*code, 0) << read_all(c.err.get());
  }
}

TEST(LoadServerCommand, MetricsCountEveryTransferAndByte) {
  const auto file = test::TempFile::with_pattern(200'000, 3);
  auto c = spawn({cli(), "load-server", "--file", file.path(), "--strategy", "read-write",
                  "--metrics", "127.0.0.1:0"});
  const int port = read_stdout_port(c.out.get());
  ASSERT_GT(port, 0);
  const int metrics = test::read_port(c.err.get());  // "zcnet load-server: metrics on port N"
  ASSERT_GT(metrics, 0);
  std::uint64_t asked = 0;
  {
    UniqueFd fd = test::connect_loopback(static_cast<std::uint16_t>(port));
    for (std::uint64_t n : {std::uint64_t{200'000}, std::uint64_t{10}, std::uint64_t{4096}}) {
      ask_and_check(fd.get(), file, n, "read-write");
      asked += n;
    }
  }
  const std::string want_bytes =
      "zcnet_load_server_bytes_total{strategy=\"read-write\"} " + std::to_string(asked) + "\n";
  std::string text;
  for (int i = 0; i < 200; ++i) {  // the connection's end is counted once the server sees it
    test::HttpClient h(static_cast<std::uint16_t>(metrics));
    auto r = h.request("/metrics");
    ASSERT_TRUE(r);
    text = r->body;
    if (text.find("zcnet_load_server_open_connections 0\n") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(text.find("zcnet_load_server_transfers_total{result=\"ok\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find(want_bytes), std::string::npos) << text;
  EXPECT_NE(text.find("zcnet_transfer_bytes_copied_total{strategy=\"read-write\"} " +
                      std::to_string(asked) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("zcnet_load_server_open_connections 0\n"), std::string::npos) << text;
  ::kill(c.pid, SIGTERM);
  auto code = test::wait_exit_within(c.pid, 10s);
  ASSERT_TRUE(code.has_value()) << "load-server did not stop";
  EXPECT_EQ(*code, 0) << read_all(c.err.get());
}

// A missing file fails the run (1); an unknown strategy is a usage error (CLI11's 105).
TEST(LoadServerCommand, UnknownStrategyOrMissingFile_ClearError) {
  for (auto [args, why, code] :
       {std::tuple{std::vector<std::string>{"--file", "/nonexistent/zcnet-payload"}, "ENOENT", 1},
        std::tuple{std::vector<std::string>{"--file", "/dev/null", "--strategy", "warp"},
                   "unknown strategy 'warp'", 105}}) {
    std::vector<std::string> argv{cli(), "load-server"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto c = spawn(argv);
    const std::string err = read_all(c.err.get());
    read_all(c.out.get());
    EXPECT_EQ(test::wait_exit(c.pid), code);
    EXPECT_NE(err.find(why), std::string::npos) << err;
  }
}

TEST(LoadCommand, NonLoopbackAddress_Refused) {
  auto c = spawn({cli(), "load", "--connect", "192.0.2.1:9", "--size", "4K", "--requests", "1"});
  const std::string err = read_all(c.err.get());
  read_all(c.out.get());
  EXPECT_EQ(test::wait_exit(c.pid), 1);
  EXPECT_NE(err.find("not a loopback address"), std::string::npos) << err;
}

// Runs the command with RLIMIT_NOFILE capped at `limit` (soft and hard); returns {exit, stderr}.
std::pair<int, std::string> run_with_nofile(const std::vector<std::string>& args, rlim_t limit) {
  auto [err_r, err_w] = test::make_pipe();
  const pid_t pid = ::fork();
  if (pid == 0) {
    rlimit rl{limit, limit};
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::dup2(err_w.get(), 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  err_w.reset();
  std::string err = read_all(err_r.get());
  auto code = test::wait_exit_within(pid, 30s);
  return {code.value_or(-1), err};
}

TEST(LoadCommand, ConcurrencyBeyondFdLimit_ClearMessage) {
  auto [code, err] = run_with_nofile({cli(), "load", "--connect", "127.0.0.1:9", "--connections",
                                      "1000", "--size", "4K", "--requests", "1"},
                                     256);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("1000 connections need about"), std::string::npos) << err;
  EXPECT_NE(err.find("open-file limit"), std::string::npos) << err;
}

TEST(BenchCommand, ConcurrencyBeyondFdLimit_ClearMessageBeforeAnyRun) {
  auto [code, err] =
      run_with_nofile({cli(), "bench", "--strategies", "read-write", "--sizes", "4K",
                       "--concurrency", "1000", "--runs", "1", "--json", "", "--html", ""},
                      256);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("1000 connections need about"), std::string::npos) << err;
  EXPECT_NE(err.find("open-file limit"), std::string::npos) << err;
}

}  // namespace
}  // namespace zcnet

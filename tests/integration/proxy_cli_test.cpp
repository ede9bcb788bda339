// The `zcnet proxy` command: its config file and flags (bad ones end in a clear error), SIGHUP
// reloading the upstreams while a connection opened before goes on, SIGTERM ending it.
#include <poll.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_process.hpp"
#include "http_client.hpp"
#include "proxy_fixture.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

// Reads `fd` (a child's stderr) until a line containing `needle` arrived; that line, or "" after
// `wait`. `seen` keeps everything read so far.
std::string line_with(int fd, std::string_view needle, std::string& seen,
                      std::chrono::milliseconds wait = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::size_t scanned = 0;
  for (;;) {
    for (std::size_t nl; (nl = seen.find('\n', scanned)) != std::string::npos; scanned = nl + 1) {
      std::string line = seen.substr(scanned, nl - scanned);
      if (line.find(needle) != std::string::npos) {
        seen.erase(0, nl + 1);
        return line;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return "";
    seen.append(buf, static_cast<std::size_t>(n));
  }
}

std::string write_config(const std::string& path, const std::string& json) {
  std::ofstream(path) << json;
  return path;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/zcnet-proxy-cli-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Recorder {
  std::mutex mu;
  std::vector<Got> got;
  Upstream::Handler handler() {
    return [this](int fd, std::size_t) {
      Got g = read_to_end(fd);
      std::lock_guard lock(mu);
      got.push_back(g);
    };
  }
  bool finished(std::size_t n) {
    return eventually([&] {
      std::lock_guard lock(mu);
      return got.size() >= n;
    });
  }
};

std::string config_for(const std::string& upstream) {
  return R"({"workers": 1, "grace": 5, "listeners": [{"name": "web", "listen": "127.0.0.1:0",
             "upstreams": [")" +
         upstream + R"("]}]})";
}

TEST(ProxyCli, SighupReloadsUpstreamsAndKeepsTheConnectionInFlight) {
  TempDir dir;
  Recorder ra, rb;
  Upstream a(ra.handler()), b(rb.handler());
  const std::string cfg = write_config(dir.path + "/proxy.json", config_for(a.address()));
  Child c = spawn({cli(), "proxy", "--config", cfg});
  std::string seen;
  const std::string ready = line_with(c.err.get(), "listening on port ", seen);
  ASSERT_FALSE(ready.empty()) << seen;
  const auto port =
      static_cast<std::uint16_t>(std::atoi(ready.c_str() + ready.find("listening on port ") + 18));

  UniqueFd old = connect_loopback(port);
  ASSERT_EQ(write_all(old.get(), pattern(1 << 20, 1)), 0);
  ASSERT_TRUE(eventually([&] { return a.connections() == 1; }));

  write_config(cfg, config_for(b.address()));
  ::kill(c.pid, SIGHUP);
  ASSERT_FALSE(line_with(c.err.get(), "reloaded", seen).empty()) << seen;
  {
    UniqueFd fresh = connect_loopback(port);
    ASSERT_EQ(write_all(fresh.get(), pattern(1000, 2)), 0);
    ::shutdown(fresh.get(), SHUT_WR);
    EXPECT_EQ(read_to_end(fresh.get()).bytes, 0u);
  }
  ASSERT_TRUE(rb.finished(1));
  EXPECT_EQ(rb.got[0].hash, pattern_hash(1000, 2));

  ASSERT_EQ(write_all(old.get(), pattern(1 << 20, 3)), 0);
  ::shutdown(old.get(), SHUT_WR);
  (void)read_to_end(old.get());
  ASSERT_TRUE(ra.finished(1));
  auto want = pattern(1 << 20, 1);
  const auto more = pattern(1 << 20, 3);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(ra.got[0].bytes, want.size());
  EXPECT_EQ(ra.got[0].hash, hash_bytes(want.data(), want.size()));

  // A config that breaks on reload is reported and the running one stays.
  write_config(cfg, R"({"listeners": [{"listen": "127.0.0.1:0", "upstreams": []}]})");
  ::kill(c.pid, SIGHUP);
  EXPECT_FALSE(line_with(c.err.get(), "reload failed", seen).empty()) << seen;

  ::kill(c.pid, SIGTERM);
  EXPECT_EQ(wait_exit_within(c.pid, 20s), std::optional<int>(0));
}

TEST(ProxyCli, AdminEndpointShowsTheSetupAndSwitchesSyscallTiming) {
  Recorder ra;
  Upstream a(ra.handler());
  Child c = spawn({cli(), "proxy", "--listen", "127.0.0.1:0", "--upstream", a.address(),
                   "--balance", "leastconn", "--admin", "0"});
  std::string seen;
  const std::string at = line_with(c.err.get(), "admin on port ", seen);
  ASSERT_FALSE(at.empty()) << seen;
  const auto port =
      static_cast<std::uint16_t>(std::atoi(at.c_str() + at.find("admin on port ") + 14));
  ASSERT_FALSE(line_with(c.err.get(), "listening on port ", seen).empty()) << seen;
  {
    HttpClient h(port);
    auto r = h.request("/config");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const auto j = nlohmann::json::parse(r->body);
    ASSERT_EQ(j.at("listeners").size(), 1u) << r->body;
    EXPECT_EQ(j.at("listeners")[0].at("balance"), "leastconn");
    EXPECT_EQ(j.at("listeners")[0].at("upstreams")[0].at("address"), a.address());
    EXPECT_EQ(j.at("syscall-timing"), false);
    EXPECT_TRUE(j.at("trace-sample").is_null());
  }
  {
    HttpClient h(port);
    auto r = h.request("/syscall-timing", "Content-Length: 2\r\n\r\non", "PUT");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "on\n");
  }
  EXPECT_FALSE(line_with(c.err.get(), "admin: syscall-timing on (was off)", seen).empty()) << seen;
  {
    HttpClient h(port);
    auto r = h.request("/trace-sample", "Content-Length: 6\r\n\r\nalways", "PUT");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409);  // no --trace-file
  }
  ::kill(c.pid, SIGTERM);
  EXPECT_EQ(wait_exit_within(c.pid, 20s), std::optional<int>(0));
}

TEST(ProxyCli, BadFlagsAndConfigsEndInAClearError) {
  TempDir dir;
  const std::string bad_key = write_config(
      dir.path + "/a.json",
      R"({"listeners": [{"listen": "127.0.0.1:0", "upstreams": ["127.0.0.1:1"], "balanse": "x"}]})");
  const std::string not_json = write_config(dir.path + "/b.json", "{ nope");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--config", bad_key}, "unknown key \"balanse\""},
      {{"--config", not_json}, "not JSON"},
      {{"--listen", "127.0.0.1:0"}, "needs at least one --upstream"},
      {{"--upstream", "127.0.0.1:1"}, "--upstream goes with --listen"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--balance", "nope"},
       "unknown balance 'nope'"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--send-proxy", "v9"},
       "unknown send-proxy 'v9'"},
      {{"--listen", "127.0.0.1:0", "--upstream", "nowhere"}, "is not HOST:PORT"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--mirror", "udp:x"},
       "neither tcp:HOST:PORT nor file:PATH"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--path", "tee"},
       "unknown path 'tee' (valid: auto, splice, uring-splice, copy)"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--path", "uring-splice",
        "--backend", "epoll"},
       "needs the uring backend"},
      {{"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--notsent-lowat", "5G"},
       "notsent-lowat must be below 4 GiB"},
      {{}, "--listen and --upstream are required"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> all{cli(), "proxy"};
    all.insert(all.end(), args.begin(), args.end());
    Child c = spawn(all);
    const std::string err = read_all(c.err.get());
    EXPECT_EQ(wait_exit(c.pid), 1) << err;
    EXPECT_NE(err.find(message), std::string::npos) << "want '" << message << "' in: " << err;
  }
}

}  // namespace
}  // namespace zcnet::test

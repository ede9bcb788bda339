// zcnet serve --config and SIGHUP: a reload switches the root and reopens the access log for
// connections accepted afterwards, while a download in flight finishes byte-exact; a bad config
// on reload is reported and the running one kept; command-line flags override the file.
#include <signal.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "http_fixture.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class HttpReload : public HttpServeTest {
 protected:
  void SetUp() override {
    HttpServeTest::SetUp();
    if (IsSkipped()) return;
    root2_ = base_ + "/root2";
    std::filesystem::create_directories(root2_);
    std::ofstream(root2_ + "/hello.txt") << "second root\n";
    config_ = base_ + "/serve.json";
    log_ = base_ + "/access.log";
  }
  void write_config(const std::string& text) {
    const std::string tmp = config_ + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, config_);  // whole, like an editor's save
  }
  void write_config(const std::string& root, const std::string& extra) {
    write_config("{\"root\": \"" + root + "\", \"access-log\": \"" + log_ + "\"" + extra + "}");
  }
  ServeProcess& start_with_config(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--config", config_, "--backend", GetParam(), "--workers", "2"});
    server_ = std::make_unique<ServeProcess>("", args);
    return *server_;
  }
  // Waits until the file holds `text` (workers flush their log buffers at least every second).
  bool log_has(const std::string& path, const std::string& text) {
    for (int i = 0; i < 150; ++i) {
      if (read_all(path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::string root2_, config_, log_;
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpReload,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpReload, Sighup_NewRootForNewConnections_DownloadInFlightCompletesByteExact) {
  write_config(root_, "");
  start_with_config();
  auto before = client();
  EXPECT_EQ(before.request("/hello.txt")->body, "hello, world\n");

  // A 5 MiB download in flight across the reload: the client reads a little, then waits.
  auto big = client(16 * 1024);
  ASSERT_TRUE(big.send("GET /f5242880.bin HTTP/1.1\r\nHost: h\r\n\r\n"));
  char buf[4096];
  ASSERT_GT(big.recv_some(buf, sizeof buf, MSG_PEEK), 0);

  write_config(root2_, "");
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_log("reloaded (generation 1)")) << server_->log();

  auto after = client();
  EXPECT_EQ(after.request("/hello.txt")->body, "second root\n");
  EXPECT_EQ(after.request("/f5242880.bin")->status, 404);  // not in the new root
  // A connection accepted before the reload keeps its configuration until it closes.
  EXPECT_EQ(before.request("/hello.txt")->body, "hello, world\n");

  auto r = big.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), kBig);
  EXPECT_EQ(hash_of(r->body), file_hash(kBig));
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
}

TEST_P(HttpReload, Sighup_ReopensAccessLog_RotatedFileKeepsOldLines) {
  write_config(root_, "");
  start_with_config();
  EXPECT_EQ(client().request("/hello.txt?before")->status, 200);
  ASSERT_TRUE(log_has(log_, "GET /hello.txt?before"));
  std::filesystem::rename(log_, log_ + ".1");  // what logrotate does
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_log("reloaded (generation 1)")) << server_->log();
  EXPECT_EQ(client().request("/hello.txt?after")->status, 200);
  EXPECT_TRUE(log_has(log_, "GET /hello.txt?after")) << read_all(log_);
  EXPECT_EQ(server_->terminate(), 0);
  EXPECT_EQ(read_all(log_).find("?before"), std::string::npos);
  const std::string rotated = read_all(log_ + ".1");
  EXPECT_NE(rotated.find("?before"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("?after"), std::string::npos) << rotated;
}

TEST_P(HttpReload, BadConfigOnReload_LoggedAndOldConfigKept) {
  write_config(root_, "");
  start_with_config();
  const std::vector<std::pair<std::string, std::string>> bad{
      {"{ not json", "not JSON"},
      {"{\"root\": \"" + base_ + "/missing\"}", "ENOENT"},
      {"{\"root\": \"" + root2_ + "\", \"no-such-option\": 1}", "unknown key"},
      {"{\"root\": \"" + root2_ + "\", \"max-connections\": -5}", "max-connections"},
      {"{\"root\": \"" + root2_ + "\", \"send-timeout\": 0}", "send-timeout"},
      {"{\"root\": \"" + root2_ + "\", \"sendfile-max-chunk\": \"3X\"}", "unknown size unit"},
      {"{\"root\": \"" + root2_ + "\", \"output-buffer\": 65536}", "\"output-buffer\" must be"},
      {"{\"root\": \"" + root2_ + "\", \"output-buffer\": \"0\"}", "output-buffer must be"},
      {"{\"root\": \"" + root2_ + "\", \"open-file-cache-valid\": -1}", "open-file-cache-valid"},
      {"[1, 2]", "JSON object"},
  };
  int failures = 0;
  for (const auto& [text, why] : bad) {
    write_config(text);
    server_->signal(SIGHUP);
    ASSERT_TRUE(server_->wait_for_log("reload failed", ++failures)) << text << server_->log();
    EXPECT_NE(server_->log().find(why), std::string::npos) << why << server_->log();
    EXPECT_EQ(client().request("/hello.txt")->body, "hello, world\n") << text;
  }
  // A good one afterwards still applies.
  write_config(root2_, "");
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_log("reloaded (generation 1)")) << server_->log();
  EXPECT_EQ(client().request("/hello.txt")->body, "second root\n");
  EXPECT_EQ(server_->terminate(), 0);
}

TEST_P(HttpReload, Sighup_AppliesNewOptions_AutoindexAndLimits) {
  write_config(root_, "");
  start_with_config();
  EXPECT_EQ(client().request("/empty-dir/")->status, 403);
  write_config(root_, ", \"autoindex\": true, \"allow-dotfiles\": true");
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_log("reloaded (generation 1)")) << server_->log();
  EXPECT_EQ(client().request("/empty-dir/")->status, 200);
  EXPECT_EQ(client().request("/.secret")->body, "hidden\n");
}

TEST_P(HttpReload, CommandLineFlagsOverrideTheFile) {
  write_config(root2_, ", \"header-timeout\": 5");
  start_with_config({"--root", root_});
  EXPECT_EQ(client().request("/hello.txt")->body, "hello, world\n");
  // Also on reload: the flag still wins over the edited file.
  write_config(root2_, ", \"autoindex\": true");
  server_->signal(SIGHUP);
  ASSERT_TRUE(server_->wait_for_log("reloaded (generation 1)")) << server_->log();
  EXPECT_EQ(client().request("/hello.txt")->body, "hello, world\n");
  EXPECT_EQ(client().request("/empty-dir/")->status, 200);
}

// The nginx-style tuning options reach the engine: odd chunk and budget sizes, no open-file cache,
// a 4 KiB TCP_NOTSENT_LOWAT (many short sends), each body strategy forced in turn, and every
// download still arrives byte-exact.
TEST_P(HttpReload, TuningOptions_OddSizesStillByteExact) {
  for (const char* strategy : {"read-write", "sendfile", "auto"}) {
    if (std::string_view(strategy) == "sendfile" && !Capabilities::probe().sendfile) continue;
    write_config(
        root_, ", \"output-buffer\": \"3000\", \"open-file-cache\": 0, \"notsent-lowat\": \"4K\"");
    start_with_config({"--strategy", strategy, "--sendfile-max-chunk", "10000",
                       "--local-sendfile-max", "100K", "--open-file-cache-valid", "0"});
    auto c = client();
    for (std::size_t n : {std::size_t{4096}, std::size_t{65537}, kBig}) {
      auto r = c.request("/f" + std::to_string(n) + ".bin");
      ASSERT_TRUE(r) << strategy << " " << n;
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body.size(), n) << strategy;
      EXPECT_EQ(hash_of(r->body), file_hash(n)) << strategy << " " << n;
    }
    EXPECT_EQ(server_->terminate(), 0) << server_->log();
  }
}

TEST_P(HttpReload, BadTuningFlagAtStart_ExitsWithTheReason) {
  write_config(root_, "");
  for (auto [flag, value, why] :
       {std::tuple{"--sendfile-max-chunk", "0", "sendfile-max-chunk must be at least 1 byte"},
        std::tuple{"--output-buffer", "2G", "output-buffer must be at most 1G"},
        std::tuple{"--local-sendfile-max", "ten", "is not a size"},
        std::tuple{"--notsent-lowat", "2G", "notsent-lowat must be at most 1G"}}) {
    try {
      start_with_config({flag, value});
      ADD_FAILURE() << "started with " << flag << " " << value;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST_P(HttpReload, BadConfigAtStart_ExitsWithTheReason) {
  write_config("{\"root\": \"" + root_ + "\", \"wrokers\": 2}");
  try {
    start_with_config();
    ADD_FAILURE() << "started with a bad config";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key \"wrokers\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zcnet::test

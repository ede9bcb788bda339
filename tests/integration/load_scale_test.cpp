// `zcnet load` against a real `zcnet serve`: --http counts bodies to the byte, --idle holds
// connections that each get every periodic request answered, --source binds the given addresses
// (as the server's access log sees them), failed connects are counted by errno without a hang,
// and bad arguments are refused with a message that names the problem.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli_process.hpp"
#include "http_client.hpp"
#include "support.hpp"

namespace zcnet {
namespace {

using namespace std::chrono_literals;
using test::cli;

struct LoadRun {
  std::optional<int> code;  // nullopt: it did not end in time (and was killed)
  std::string out, err;
  nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Runs `zcnet load ARGS`; every run here is bounded by the load's own duration, so 30 s is a hang.
LoadRun load(std::vector<std::string> args) {
  args.insert(args.begin(), {cli(), "load"});
  auto c = test::spawn(args);
  LoadRun r;
  r.out = test::read_all(c.out.get());
  r.err = test::read_all(c.err.get());
  r.code = test::wait_exit_within(c.pid, 30s);
  return r;
}

constexpr std::size_t kFileSize = 100'003;  // not a multiple of any buffer size

class LoadScale : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zcnet-load-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    const auto bytes = test::pattern(kFileSize, 7);
    std::ofstream(base_ + "/f.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    std::ofstream(base_ + "/small.txt") << "small\n";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(base_);
  }
  test::ServeProcess& serve(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--workers", "1"});
    server_ = std::make_unique<test::ServeProcess>(base_, args);
    return *server_;
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  std::string base_;
  std::unique_ptr<test::ServeProcess> server_;
};

TEST_F(LoadScale, Http_AgainstServe_BytesAreResponsesTimesFileSize) {
  serve();
  const LoadRun r =
      load({"--connect", target(), "--http", "/f.bin", "-c", "3", "--requests", "30", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["protocol"], "http");
  EXPECT_EQ(j["transfers"], 30);
  EXPECT_EQ(j["size"], kFileSize);
  EXPECT_EQ(j["bytes"], 30 * kFileSize);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_EQ(j["connect"]["established"], 3);
}

TEST_F(LoadScale, Http_MissingFile_Non2xxCountedAsErrors) {
  serve();
  const LoadRun r =
      load({"--connect", target(), "--http", "/missing", "--requests", "2", "--json"});
  EXPECT_EQ(r.code, 1);
  const auto j = r.json();
  EXPECT_EQ(j["non_2xx"], 1);  // the one connection stops at its first error
  EXPECT_EQ(j["transfers"], 0);
  EXPECT_NE(r.err.find("status 404"), std::string::npos) << r.err;
}

TEST_F(LoadScale, Idle_ThreeHundredConnections_EveryPeriodicRequestAnswered) {
  serve();
  const LoadRun r =
      load({"--connect", target(), "--http", "/f.bin", "--idle-path", "/small.txt", "-c", "2",
            "--duration", "2", "--idle", "300", "--idle-interval", "0.5", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  const auto& idle = j["idle"];
  EXPECT_EQ(idle["held"], 300);
  EXPECT_EQ(idle["lost"], 0);
  // 2 s of hold at one request per 0.5 s: at least 3 rounds of 300, whatever the phase.
  EXPECT_GE(idle["sent"].get<std::uint64_t>(), 900u);
  EXPECT_EQ(idle["answered"], idle["sent"]);
  EXPECT_EQ(idle["unanswered"], 0);
  EXPECT_GT(idle["latency_ns"]["max"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["connect"]["established"], 302);
  EXPECT_GE(j["process"]["peak_fds"].get<std::uint64_t>(), 302u);
  EXPECT_GT(j["transfers"].get<std::uint64_t>(), 0u);
}

TEST_F(LoadScale, Idle_ServerClosesIdleConnections_CountedUnansweredAndExitsNonZero) {
  serve({"--keepalive-timeout", "0.2"});
  const LoadRun r = load({"--connect", target(), "--http", "/small.txt", "-c", "0", "--idle", "20",
                          "--idle-interval", "0.6", "--duration", "1.5", "--json"});
  ASSERT_TRUE(r.code.has_value()) << "load hung";
  EXPECT_EQ(*r.code, 1);
  const auto idle = r.json()["idle"];
  EXPECT_EQ(idle["lost"], 20);
  EXPECT_EQ(idle["unanswered"], 20);
  EXPECT_EQ(idle["held"], 0);
  EXPECT_NE(r.err.find("idle request(s) unanswered"), std::string::npos) << r.err;
}

TEST_F(LoadScale, SourceRange_ServerSeesEveryAddressOfTheRangeAndNoOther) {
  const std::string log = base_ + "/access.log";
  serve({"--access-log", log});
  const LoadRun r =
      load({"--connect", target(), "--http", "/small.txt", "-c", "0", "--idle", "6",
            "--idle-interval", "0.2", "--duration", "1", "--source", "127.0.0.2-127.0.0.4"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(server_->terminate(), 0);  // flushes the access log
  std::set<std::string> clients;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) clients.insert(line.substr(0, line.find(' ')));
  EXPECT_EQ(clients, (std::set<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4"}));
}

TEST(LoadConnect, NothingListening_EconnrefusedCountedPerAttempt_ExitsWithoutHanging) {
  // A bound port nobody listens on: every connect is refused.
  auto bound = test::listen_loopback();
  const std::uint16_t port = bound.port;
  bound.fd.reset();
  const LoadRun r = load({"--connect", "127.0.0.1:" + std::to_string(port), "--http", "/", "-c",
                          "2", "--idle", "5", "--duration", "1", "--json"});
  ASSERT_TRUE(r.code.has_value()) << "load hung";
  EXPECT_EQ(*r.code, 1);
  const auto c = r.json()["connect"];
  EXPECT_EQ(c["attempted"], 7);
  EXPECT_EQ(c["established"], 0);
  EXPECT_EQ(c["failed"], 7);
  EXPECT_EQ(c["failures"]["ECONNREFUSED"], 7);
  EXPECT_NE(r.err.find("ECONNREFUSED"), std::string::npos) << r.err;
}

struct BadArgs {
  std::vector<std::string> args;
  std::string message;
};

TEST(LoadArgs, BadCombinations_RefusedWithAMessageNamingTheProblem) {
  const std::vector<BadArgs> cases = {
      {{"--duration", "1"}, "give --size SIZE (length protocol) or --http PATH"},
      {{"--http", "/", "--size", "4K", "--duration", "1"}, "--size is for the length protocol"},
      {{"--http", "index.html", "--duration", "1"}, "must start with '/'"},
      {{"--size", "4K", "--idle-path", "/a", "--duration", "1"}, "--idle-path needs --http"},
      {{"--http", "/", "-c", "0", "--duration", "1"}, "--connections 0 needs --idle N"},
      {{"--http", "/", "--idle", "5", "--requests", "3"}, "needs --hold SECONDS"},
      {{"--http", "/", "--duration", "1", "--source", "10.0.0.1"}, "not a loopback address"},
      {{"--http", "/", "--duration", "1", "--source", "127.0.0.9-127.0.0.3"},
       "ends before it starts"},
      {{"--http", "/", "--duration", "1", "--source", "127.0.0.x"}, "not an IPv4 address"},
      {{"--http", "/", "--duration", "1", "--idle-interval", "0"}, "--idle-interval"},
  };
  for (const BadArgs& c : cases) {
    std::vector<std::string> args{"--connect", "127.0.0.1:9"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const LoadRun r = load(args);
    EXPECT_NE(r.code, 0) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos)
        << "want '" << c.message << "' in: " << r.err;
  }
}

}  // namespace
}  // namespace zcnet

// The options every `zcnet` command shares: `--strategy` and `--backend` are one option each,
// with one parser, so a bad name gets the same message and exit status from every command (and
// from serve's config file); `zcnet --help` names every command; `zcnet` alone shows that help.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "cli_process.hpp"
#include "http_client.hpp"
#include "support.hpp"

namespace zcnet {
namespace {

using test::cli;
using test::read_all;
using test::spawn;
using test::TempFile;

// CLI11's exit status for an option value its check refused.
constexpr int kUsageError = 105;

constexpr const char* kCommands[] = {"send",  "recv", "serve",      "doctor",
                                     "bench", "load", "load-server"};

struct Finished {
  std::optional<int> code;  // nullopt: still running after 20 s, killed
  std::string out, err;
};

// Runs `zcnet ARGS...` to its end (killed after 20 s: a bad option must stop it long before).
Finished run(std::vector<std::string> args) {
  args.insert(args.begin(), cli());
  test::Child c = spawn(args);
  Finished r;
  r.code = test::wait_exit_within(c.pid, std::chrono::seconds(20));
  r.out = read_all(c.out.get());
  r.err = read_all(c.err.get());
  return r;
}

// The line of `text` holding `needle`, from `needle` on ("" if none).
std::string from(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return "";
  return text.substr(at, text.find('\n', at) - at);
}

const std::string kStrategyError =
    "unknown strategy 'warp' (valid: read-write, mmap, sendfile, splice, msg-zerocopy, uring-send, "
    "uring-send-zc, uring-splice, auto)";
const std::string kBackendError = "unknown backend 'kqueue' (valid: epoll, uring, poll, auto)";

TEST(CliOptions, ServeTrace_ABadSampleSpecOrTraceFileStopsItWithTheReason) {
  const Finished spec = run({"serve", "--root", "/", "--listen", "127.0.0.1:0", "--trace-file",
                             "/nonexistent-dir/a.jsonl", "--trace-sample", "ratio:2"});
  ASSERT_TRUE(spec.code);
  EXPECT_NE(*spec.code, 0);
  EXPECT_NE(spec.err.find("'ratio:2': P must be in [0, 1]"), std::string::npos) << spec.err;
  const Finished file = run({"serve", "--root", "/", "--listen", "127.0.0.1:0", "--trace-file",
                             "/nonexistent-dir/b.jsonl"});
  ASSERT_TRUE(file.code);
  EXPECT_NE(*file.code, 0);
  EXPECT_NE(file.err.find("/nonexistent-dir/b.jsonl"), std::string::npos) << file.err;
}

// Counts and times are refused in human terms: what was given, the unit, the allowed range (no
// 300-digit bound), before anything starts.
TEST(CliOptions, CountsAndTimes_RefusedWithTheAllowedRangeInWords) {
  const std::regex long_number("[0-9]{12,}");
  struct Case {
    std::vector<std::string> args;
    std::string said;
  };
  const std::vector<Case> cases{
      {{"serve", "--root", "/", "--listen", "127.0.0.1:0", "--workers", "0"},
       "'0' is not a count of worker threads: give a whole number from 1 to 1024"},
      {{"serve", "--root", "/", "--listen", "127.0.0.1:0", "--header-timeout", "-1"},
       "'-1' is not a time: give a number of seconds above 0, such as 30 or 2.5"},
      {{"serve", "--root", "/", "--listen", "127.0.0.1:0", "--grace", "-0.5"},
       "'-0.5' is not a time: give a number of seconds from 0 up, such as 30 or 2.5"},
      {{"serve", "--root", "/", "--listen", "127.0.0.1:0", "--keepalive-timeout", "soon"},
       "'soon' is not a time"},
      {{"proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--connect-timeout", "-1"},
       "'-1' is not a time: give a number of seconds above 0"},
      {{"proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--workers", "0"},
       "'0' is not a count of worker threads"},
      {{"recv", "--listen", "127.0.0.1:0", "--grace", "-3"}, "'-3' is not a time"},
  };
  for (const auto& k : cases) {
    const Finished r = run(k.args);
    ASSERT_TRUE(r.code) << k.said;
    EXPECT_EQ(*r.code, kUsageError) << r.err;
    EXPECT_NE(r.err.find(k.said), std::string::npos) << r.err;
    EXPECT_FALSE(std::regex_search(r.err, long_number)) << r.err;
  }
  // The config file's workers too (absent: one per core).
  TempFile cfg = TempFile::empty();
  std::ofstream(cfg.path()) << R"({"root": "/", "listen": "127.0.0.1:0", "workers": 0})";
  const Finished file = run({"serve", "--config", cfg.path()});
  ASSERT_TRUE(file.code);
  EXPECT_EQ(*file.code, 1) << file.err;
  EXPECT_NE(file.err.find("\"workers\" must be 1 to 1024, not 0"), std::string::npos) << file.err;
}

// SO_REUSEPORT would let a second server join a running one's port and take half its requests:
// the second one fails with EADDRINUSE instead, and the first keeps serving.
TEST(CliOptions, ASecondServerOnTheSamePort_FailsWithEaddrinuse) {
  TempFile file = TempFile::with_pattern(1000);
  const std::string dir = file.path().substr(0, file.path().rfind('/'));
  test::ServeProcess first(dir, {"--workers", "2"});
  const std::string at = "127.0.0.1:" + std::to_string(first.port());
  const Finished second = run({"serve", "--root", "/", "--listen", at});
  ASSERT_TRUE(second.code);
  EXPECT_EQ(*second.code, 1) << second.err;
  EXPECT_NE(second.err.find("EADDRINUSE"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("only one server's workers may share a port"), std::string::npos);
  const Finished proxy = run({"proxy", "--listen", at, "--upstream", "127.0.0.1:9"});
  ASSERT_TRUE(proxy.code);
  EXPECT_EQ(*proxy.code, 1) << proxy.err;
  EXPECT_NE(proxy.err.find("EADDRINUSE"), std::string::npos) << proxy.err;
  for (int i = 0; i < 4; ++i) {  // every request still reaches the first server
    test::HttpClient c(first.port());
    auto r = c.request(file.path().substr(dir.size()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST(CliOptions, UnknownStrategy_SameErrorAndExitCode_OnEveryCommand) {
  TempFile file = TempFile::with_pattern(16);
  const std::string dir = ::testing::TempDir();
  const std::vector<std::vector<std::string>> cases = {
      {"send", file.path(), "--to", "127.0.0.1:1", "--strategy", "warp"},
      {"serve", "--root", dir, "--listen", "127.0.0.1:0", "--strategy", "warp"},
      {"load-server", "--file", file.path(), "--strategy", "warp"},
      {"bench", "--strategies", "read-write,warp", "--json", "", "--html", ""},
      {"bench", "--baseline", "warp", "--json", "", "--html", ""},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[args.size() > 4 ? 3 : 1]);
    const Finished r = run(args);
    EXPECT_EQ(r.code, kUsageError) << r.err;
    EXPECT_EQ(from(r.err, "unknown strategy"), kStrategyError) << r.err;
  }
}

TEST(CliOptions, Tee_IsNoStrategyACommandTakes) {
  TempFile file = TempFile::with_pattern(16);
  const Finished r = run({"send", file.path(), "--to", "127.0.0.1:1", "--strategy", "tee"});
  EXPECT_EQ(r.code, kUsageError) << r.err;
  EXPECT_NE(r.err.find("unknown strategy 'tee' (valid: "), std::string::npos) << r.err;
}

TEST(CliOptions, UnknownBackend_SameErrorAndExitCode_OnEveryCommand) {
  TempFile file = TempFile::with_pattern(16);
  const std::string dir = ::testing::TempDir();
  const std::vector<std::vector<std::string>> cases = {
      {"send", file.path(), "--to", "127.0.0.1:1", "--backend", "kqueue"},
      {"recv", "--listen", "127.0.0.1:0", "--backend", "kqueue"},
      {"serve", "--root", dir, "--listen", "127.0.0.1:0", "--backend", "kqueue"},
      {"load", "--connect", "127.0.0.1:1", "--size", "1", "--requests", "1", "--backend", "kqueue"},
      {"load-server", "--file", file.path(), "--backend", "kqueue"},
      {"bench", "--client-backend", "kqueue", "--json", "", "--html", ""},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0]);
    const Finished r = run(args);
    EXPECT_EQ(r.code, kUsageError) << r.err;
    EXPECT_EQ(from(r.err, "unknown backend"), kBackendError) << r.err;
  }
}

// A bench cell needs a backend to measure: auto is refused there, with the list it takes.
TEST(CliOptions, BenchBackends_RefuseAuto) {
  const Finished r = run({"bench", "--backends", "auto", "--json", "", "--html", ""});
  EXPECT_EQ(r.code, kUsageError) << r.err;
  EXPECT_EQ(from(r.err, "unknown backend"), "unknown backend 'auto' (valid: epoll, uring, poll)")
      << r.err;
}

// The config file's names go through the same parsers as the flags (the run ends at its start).
TEST(CliOptions, ServeConfig_UnknownStrategyOrBackend_SameMessageAsTheFlag) {
  for (auto [key, value, message] : {std::tuple{"strategy", "warp", kStrategyError},
                                     std::tuple{"backend", "kqueue", kBackendError}}) {
    SCOPED_TRACE(key);
    const std::string path = ::testing::TempDir() + "zcnet-options-test.json";
    {
      std::ofstream out(path);
      out << nlohmann::json{{"root", ::testing::TempDir()}, {"listen", "127.0.0.1:0"}, {key, value}}
                 .dump();
    }
    const Finished r = run({"serve", "--config", path});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(from(r.err, "unknown"), message) << r.err;
  }
}

// Every --backend reads the same: the same help for the commands on the default (auto) loop.
TEST(CliOptions, BackendHelp_IsTheSameOnSendRecvAndServe) {
  std::vector<std::string> lines;
  for (const char* command : {"send", "recv", "serve"}) {
    const Finished r = run({command, "--help"});
    ASSERT_EQ(r.code, 0) << command << r.err;
    lines.push_back(from(r.out, "--backend"));
    EXPECT_NE(lines.back().find("epoll, uring, poll or auto (default: $ZCNET_BACKEND"),
              std::string::npos)
        << command << ": " << r.out;
  }
  EXPECT_EQ(lines[0], lines[1]);
  EXPECT_EQ(lines[0], lines[2]);
}

// "  NAME   description" for every command, in the help `text`.
void expect_every_command_described(const std::string& text) {
  for (const char* command : kCommands) {
    const std::regex line(std::string("(^|\n)  ") + command + " +[A-Za-z][^\n]+");
    EXPECT_TRUE(std::regex_search(text, line)) << command << " missing from:\n" << text;
  }
}

TEST(CliOptions, Help_NamesEveryCommandWithItsDescription) {
  const Finished r = run({"--help"});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_every_command_described(r.out);
}

TEST(CliOptions, NoCommand_PrintsTheHelp_AndFails) {
  const Finished r = run({});
  ASSERT_TRUE(r.code.has_value());
  EXPECT_NE(*r.code, 0);
  expect_every_command_described(r.err);
  EXPECT_NE(r.err.find("zcnet: no command given"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace zcnet

// The zcnet command end to end: `zcnet recv` and `zcnet send` as separate processes over loopback.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support.hpp"
#include "zcnet/capabilities.hpp"

extern char** environ;

namespace zcnet {
namespace {

using test::TempFile;

const char* cli() {
  const char* p = std::getenv("ZCNET_CLI");
  return p ? p : "zcnet";
}

struct Child {
  pid_t pid = -1;
  UniqueFd out, err;
};

Child spawn(const std::vector<std::string>& args) {
  auto [out_r, out_w] = test::make_pipe();
  auto [err_r, err_w] = test::make_pipe();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Child c;
  int rc = posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "cannot start " << args[0];
  c.out = std::move(out_r);
  c.err = std::move(err_r);
  return c;
}

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads recv's "listening on port N" line from its stderr.
int read_port(int err_fd) {
  std::string line;
  char ch;
  while (::read(err_fd, &ch, 1) == 1 && ch != '\n') line += ch;
  auto pos = line.rfind(' ');
  return pos == std::string::npos ? -1 : std::atoi(line.c_str() + pos + 1);
}

class CliSendRecv : public ::testing::TestWithParam<std::string> {};

TEST_P(CliSendRecv, SendToRecvOut_IsByteExact_AndJsonNamesStrategy) {
  const std::string strategy = GetParam();
  if (auto k = parse_strategy(strategy); k && !Capabilities::probe().allows(*k))
    GTEST_SKIP() << strategy << " not available on this kernel";
  TempFile src = TempFile::with_pattern((4 << 20) + 123);
  TempFile out = TempFile::empty();
  Child rx = spawn({cli(), "recv", "--listen", "127.0.0.1:0", "--out", out.path(), "--json"});
  int port = read_port(rx.err.get());
  ASSERT_GT(port, 0);
  Child tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:" + std::to_string(port),
                    "--strategy", strategy, "--json"});
  std::string tx_out = read_all(tx.out.get());
  std::string tx_err = read_all(tx.err.get());
  ASSERT_EQ(wait_exit(tx.pid), 0) << tx_err;
  std::string rx_out = read_all(rx.out.get());
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());

  auto sent = nlohmann::json::parse(tx_out);
  auto got = nlohmann::json::parse(rx_out);
  EXPECT_EQ(sent["bytes"], src.size());
  EXPECT_EQ(got["bytes"], src.size());
  if (strategy != "auto") {
    EXPECT_EQ(sent["strategy"], strategy);
  }
  EXPECT_FALSE(sent["reason"].get<std::string>().empty());
  EXPECT_GT(sent["syscalls"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(out.hash(), src.hash());
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, CliSendRecv,
                         ::testing::Values("auto", "read-write", "mmap", "sendfile", "splice",
                                           "msg-zerocopy", "uring-send", "uring-send-zc",
                                           "uring-splice"),
                         [](const auto& p) {
                           std::string n = p.param;
                           std::erase(n, '-');
                           return n;
                         });

TEST(Cli, SendToClosedPort_ExitsNonzeroWithTypedError) {
  auto l = test::listen_loopback();
  int port = l.port;
  l.fd.reset();  // nobody listens there now
  TempFile src = TempFile::with_pattern(10);
  Child tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:" + std::to_string(port)});
  std::string err = read_all(tx.err.get());
  EXPECT_NE(wait_exit(tx.pid), 0);
  EXPECT_NE(err.find("ECONNREFUSED"), std::string::npos) << err;
}

TEST(Cli, UnknownStrategy_IsRejected) {
  TempFile src = TempFile::with_pattern(10);
  Child tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:1", "--strategy", "warp"});
  std::string err = read_all(tx.err.get());
  EXPECT_NE(wait_exit(tx.pid), 0);
  EXPECT_NE(err.find("warp"), std::string::npos) << err;
}

TEST(Cli, Doctor_PrintsCapabilitiesAsJson) {
  Child d = spawn({cli(), "doctor", "--json"});
  std::string out = read_all(d.out.get());
  ASSERT_EQ(wait_exit(d.pid), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["splice"], Capabilities::probe().splice);
  EXPECT_EQ(j["io_uring"], Capabilities::probe().io_uring);
  EXPECT_TRUE(j.contains("pipe_max_bytes"));
}

}  // namespace
}  // namespace zcnet

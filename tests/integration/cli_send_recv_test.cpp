// The zcnet command end to end: `zcnet recv` and `zcnet send` as separate processes over loopback.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_process.hpp"
#include "support.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {
namespace {

using test::Child;
using test::cli;
using test::read_all;
using test::read_port;
using test::spawn;
using test::TempFile;
using test::wait_exit;

class CliSendRecv : public ::testing::TestWithParam<std::string> {};

TEST_P(CliSendRecv, SendToRecvOut_IsByteExact_AndJsonNamesStrategy) {
  const std::string strategy = GetParam();
  if (auto k = parse_strategy(strategy); k && !allows(Capabilities::probe(), *k))
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
  EXPECT_EQ(j["loop_backend"], to_string(auto_backend())) << "same environment, same choice";
}

// One reader of ZCNET_DISABLE for the strategies and the loop: "uring" turns off both.
TEST(Cli, Doctor_DisableUring_TurnsOffTheIoUringStrategiesAndTheLoopBackend) {
  Child d = spawn({cli(), "doctor", "--json"}, {"ZCNET_DISABLE=uring", "ZCNET_BACKEND="});
  std::string out = read_all(d.out.get());
  ASSERT_EQ(wait_exit(d.pid), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["io_uring"], false);
  EXPECT_EQ(j["io_uring_send"], false);
  EXPECT_EQ(j["io_uring_loop"], false);
  EXPECT_EQ(j["splice"], Capabilities::probe().splice) << "only io_uring is off";
  EXPECT_EQ(j["loop_backend"], test::kReactorBackend);
}

}  // namespace
}  // namespace zcnet

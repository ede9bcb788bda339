// The zcnet command end to end: `zcnet recv` and `zcnet send` as separate processes over loopback.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli_process.hpp"
#include "http_client.hpp"
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

// GET /metrics of a --metrics endpoint on `port`: the body.
std::string scrape(int port) {
  test::HttpClient c(static_cast<std::uint16_t>(port));
  auto r = c.request("/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

TEST(Cli, RecvMetrics_CountTheTransfersBytesAndLedger_PromtoolAcceptsThem) {
  TempFile src = TempFile::with_pattern((3 << 20) + 5);
  TempFile out = TempFile::empty();
  Child rx = spawn({cli(), "recv", "--listen", "127.0.0.1:0", "--out", out.path(), "--count", "2",
                    "--metrics", "127.0.0.1:0"});
  const int metrics = read_port(rx.err.get());  // "metrics on port N" comes first
  const int port = read_port(rx.err.get());
  ASSERT_GT(metrics, 0);
  ASSERT_GT(port, 0);
  Child tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:" + std::to_string(port), "-P",
                    "2", "--strategy", "read-write"});
  ASSERT_EQ(wait_exit(tx.pid), 0) << read_all(tx.err.get());
  // Both connections counted once recv is done with them (it exits after --count 2, so scrape
  // while the second may still be finishing: poll until both are in).
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = scrape(metrics);
    if (text.find("zcnet_recv_transfers_total{result=\"ok\"} 2\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(text.find("zcnet_recv_transfers_total{result=\"ok\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("zcnet_recv_transfers_total{result=\"failed\"} 0\n"), std::string::npos);
  // Every byte counted once, under the strategy recv chose, in the ledger too.
  std::uint64_t by_strategy = 0, ledger = 0;
  for (const char* family : {"zcnet_recv_bytes_total{", "zcnet_transfer_bytes_copied_total{",
                             "zcnet_transfer_bytes_not_copied_total{"})
    for (auto p = text.find(family); p != std::string::npos; p = text.find(family, p + 1))
      (family[6] == 'r' ? by_strategy : ledger) += std::stoull(text.substr(text.find(' ', p) + 1));
  EXPECT_EQ(by_strategy, src.size()) << text;
  EXPECT_EQ(ledger, src.size()) << text;
  EXPECT_NE(text.find("zcnet_recv_open_connections 0\n"), std::string::npos) << text;
#ifndef ZCNET_PORTABLE
  EXPECT_NE(text.find("process_open_fds"), std::string::npos);  // read from /proc
#endif
  if (const std::string tool = test::promtool(); !tool.empty()) {
    const test::Checked r = test::promtool_check_metrics(tool, text);
    ASSERT_TRUE(r.code);
    EXPECT_EQ(*r.code, 0) << r.said << "\n" << text;
  }
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());
  EXPECT_EQ(out.hash(), src.hash());
}

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

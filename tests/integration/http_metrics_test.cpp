// zcnet serve --metrics: a Prometheus scrape after a known set of requests reports exactly their
// statuses, the bytes the clients received (by strategy), open connections and the durations.
#include <map>
#include <sstream>
#include <thread>

#include "cli_process.hpp"
#include "http_fixture.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class HttpMetrics : public HttpServeTest {
 protected:
  std::uint16_t metrics_port() {
    const std::string log = server_->log();
    const auto at = log.find("metrics on port ");
    if (at == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::atoi(log.c_str() + at + 16));
  }
  // "name{labels}" -> value for every sample line; the raw text in `text`.
  std::map<std::string, double> scrape(std::string* text = nullptr) {
    HttpClient c(metrics_port());
    auto r = c.request("/metrics");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    if (text) *text = r->body;
    std::map<std::string, double> out;
    std::istringstream in(r->body);
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.rfind(' ');
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
  }
  // One request on its own connection that the server closes: every byte it sent, counted.
  std::uint64_t bytes_of(const std::string& raw) {
    auto c = client();
    EXPECT_TRUE(c.send(raw));
    return c.drain();
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpMetrics,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpMetrics, KnownRequests_ExactStatusCountsAndByteTotals) {
  start({"--metrics", "127.0.0.1:0", "--strategy", "read-write"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  auto get = [](const std::string& target, const std::string& extra = {},
                const std::string& method = "GET") {
    return method + " " + target + " HTTP/1.1\r\nHost: h\r\n" + extra + "Connection: close\r\n\r\n";
  };
  // Every request on its own connection, every byte the client received counted.
  std::uint64_t body_bytes = 0, head_only_bytes = 0;
  for (int i = 0; i < 3; ++i) body_bytes += bytes_of(get("/hello.txt"));   // 200 x3
  body_bytes += bytes_of(get("/f4096.bin", "Range: bytes=0-9\r\n"));       // 206
  body_bytes += bytes_of(get("/f5242880.bin"));                            // 200
  for (int i = 0; i < 2; ++i) head_only_bytes += bytes_of(get("/nope"));   // 404 x2
  head_only_bytes += bytes_of(get("/hello.txt", "If-None-Match: *\r\n"));  // 304
  head_only_bytes += bytes_of(get("/hello.txt", {}, "HEAD"));              // 200, no body
  EXPECT_GT(body_bytes, kBig);

  // Two connections that stay open (silent) across the scrape.
  auto idle1 = client(), idle2 = client();
  std::map<std::string, double> m;
  std::string text;
  for (int i = 0; i < 100; ++i) {  // closed connections leave, new ones arrive, within a moment
    m = scrape(&text);
    if (m["zcnet_http_open_connections"] == 2) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(m["zcnet_http_open_connections"], 2) << text;
  EXPECT_EQ(m["zcnet_http_requests_total{status=\"200\"}"], 5) << text;
  EXPECT_EQ(m["zcnet_http_requests_total{status=\"206\"}"], 1) << text;
  EXPECT_EQ(m["zcnet_http_requests_total{status=\"304\"}"], 1) << text;
  EXPECT_EQ(m["zcnet_http_requests_total{status=\"404\"}"], 2) << text;
  EXPECT_EQ(m.count("zcnet_http_requests_total{status=\"500\"}"), 0u) << text;
  EXPECT_EQ(m["zcnet_http_request_duration_seconds_count"], 9) << text;
  EXPECT_EQ(m["zcnet_http_request_duration_seconds_bucket{le=\"+Inf\"}"], 9) << text;
  EXPECT_GT(m["zcnet_http_request_duration_seconds_sum"], 0) << text;
  EXPECT_LE(m["zcnet_http_request_duration_seconds_bucket{le=\"0.0001\"}"],
            m["zcnet_http_request_duration_seconds_bucket{le=\"10\"}"]);
  // File bodies went by the forced strategy; everything else as head-only writes.
  EXPECT_EQ(m["zcnet_http_response_bytes_total{strategy=\"read-write\"}"],
            static_cast<double>(body_bytes))
      << text;
  EXPECT_EQ(m["zcnet_http_response_bytes_total{strategy=\"headers-only\"}"],
            static_cast<double>(head_only_bytes))
      << text;
  EXPECT_NE(text.find("# TYPE zcnet_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE zcnet_http_open_connections gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE zcnet_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("process_cpu_seconds_total"), std::string::npos);
}

TEST_P(HttpMetrics, OtherPaths_404_AndServerKeepsAnswering) {
  start({"--metrics", "127.0.0.1:0"});
  HttpClient c(metrics_port());
  EXPECT_EQ(c.request("/")->status, 404);
  EXPECT_EQ(scrape().count("zcnet_http_open_connections"), 1u);
}

}  // namespace
}  // namespace zcnet::test

namespace zcnet::test {
namespace {

// The default choice per body, seen through the metrics: 64 KiB + 1 is inside the engine's
// sendfile window, 1 MiB is above it but within the selector's server-mode bound
// (--local-sendfile-max, 2 MiB), so sendfile; 5 MiB goes by the engine's Profile (mmap from the
// cached mapping to a local peer).
TEST_P(HttpMetrics, DefaultChoice_SendfileUpToTwoMebibytesThenTheCachedMapping) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  write_file(root_ + "/f1048576.bin", pattern(1 << 20, 9));
  start({"--metrics", "127.0.0.1:0"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  auto get = [](const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  };
  const std::uint64_t by_sendfile = bytes_of(get("/f65537.bin")) + bytes_of(get("/f1048576.bin"));
  const std::uint64_t by_mmap = bytes_of(get("/f5242880.bin"));
  ASSERT_GT(by_sendfile, 65537u + (1u << 20));
  ASSERT_GT(by_mmap, kBig);
  std::string text;
  auto m = scrape(&text);
  EXPECT_EQ(m["zcnet_http_response_bytes_total{strategy=\"sendfile\"}"],
            static_cast<double>(by_sendfile))
      << text;
  EXPECT_EQ(m["zcnet_http_response_bytes_total{strategy=\"mmap\"}"], static_cast<double>(by_mmap))
      << text;
  // The ledger counts bodies only: neither went through a user-space buffer.
  EXPECT_EQ(m["zcnet_transfer_bytes_not_copied_total{strategy=\"sendfile\"}"], 65537 + (1 << 20))
      << text;
  EXPECT_EQ(m["zcnet_transfer_bytes_copied_total{strategy=\"sendfile\"}"], 0) << text;
  EXPECT_EQ(m["zcnet_transfer_bytes_not_copied_total{strategy=\"mmap\"}"], kBig) << text;
  EXPECT_EQ(m["zcnet_transfer_bytes_copied_total{strategy=\"mmap\"}"], 0) << text;

  // The pools as the workers' watchdogs last copied them (within a second). Each worker maps the
  // file once (a miss); the second fetch on one connection finds its worker's mapping (a hit).
  {
    auto c = client();
    for (int i = 0; i < 2; ++i) {
      auto r = c.request("/f5242880.bin");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body.size(), kBig);
    }
  }
  const auto lookups = [&] {
    return m["zcnet_mapping_cache_lookups_total{result=\"hit\"}"] +
           m["zcnet_mapping_cache_lookups_total{result=\"miss\"}"];
  };
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((lookups() < 3 || m["zcnet_buffer_pool_acquires_total{result=\"immediate\"}"] < 4) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    m = scrape(&text);
  }
  const double misses = m["zcnet_mapping_cache_lookups_total{result=\"miss\"}"];
  EXPECT_EQ(lookups(), 3) << text;
  EXPECT_GE(m["zcnet_mapping_cache_lookups_total{result=\"hit\"}"], 1) << text;
  EXPECT_EQ(m["zcnet_mapping_cache_entries"], misses) << text;
  EXPECT_EQ(m["zcnet_mapping_cache_mapped_bytes"], misses * kBig) << text;
  EXPECT_GE(m["zcnet_buffer_pool_acquires_total{result=\"immediate\"}"], 4) << text;
  EXPECT_EQ(m["zcnet_buffer_pool_acquires_total{result=\"refused\"}"], 0) << text;
  EXPECT_EQ(m["zcnet_buffer_pool_buffers{state=\"in_use\"}"], 0) << text;
}

// promtool accepts the whole exposition, with every family present: statuses, strategies, the
// ledger, tracing and the process metrics.
TEST_P(HttpMetrics, Exposition_PromtoolAcceptsIt) {
  const std::string tool = promtool();
  if (tool.empty()) GTEST_SKIP() << "no promtool (scripts/setup.sh puts it in build/tools)";
  start({"--metrics", "127.0.0.1:0", "--trace-file", base_ + "/spans.jsonl"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  {
    auto c = client();
    for (const char* path : {"/hello.txt", "/nope", "/f65537.bin", "/f5242880.bin"})
      ASSERT_TRUE(c.request(path)) << path;
  }
  std::string text;
  (void)scrape(&text);
  EXPECT_NE(text.find("zcnet_transfer_bytes_not_copied_total"), std::string::npos) << text;
  EXPECT_NE(text.find("zcnet_trace_spans_total"), std::string::npos) << text;
  const Checked r = promtool_check_metrics(tool, text);
  ASSERT_TRUE(r.code);
  EXPECT_EQ(*r.code, 0) << r.said << "\n" << text;
}

// The zero-copy ledger under forced strategies: read-write copies every body byte; MSG_ZEROCOPY
// from a file reads it into a buffer first (copied), and on loopback the kernel flags every
// notification "copied anyway", which the ledger reports as such.
TEST_P(HttpMetrics, Ledger_CopiedBytesAndTheKernelsZeroCopyVerdicts) {
  start({"--metrics", "127.0.0.1:0", "--strategy", "read-write"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  auto get = [](const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  };
  ASSERT_GT(bytes_of(get("/f65537.bin")), 65537u);
  ASSERT_GT(bytes_of(get("/f5242880.bin")), kBig);
  std::string text;
  auto m = scrape(&text);
  EXPECT_EQ(m["zcnet_transfer_bytes_copied_total{strategy=\"read-write\"}"], 65537 + kBig) << text;
  EXPECT_EQ(m["zcnet_transfer_bytes_not_copied_total{strategy=\"read-write\"}"], 0) << text;
  EXPECT_EQ(server_->terminate(), 0);

  if (!Capabilities::probe().msg_zerocopy) GTEST_SKIP() << "no MSG_ZEROCOPY here";
  start({"--metrics", "127.0.0.1:0", "--strategy", "msg-zerocopy"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  ASSERT_GT(bytes_of(get("/f5242880.bin")), kBig);
  m = scrape(&text);
  EXPECT_EQ(m["zcnet_transfer_bytes_copied_total{strategy=\"msg-zerocopy\"}"], kBig) << text;
  const double flagged =
      m["zcnet_transfer_zerocopy_completions_total{strategy=\"msg-zerocopy\",kernel_copied="
        "\"true\"}"];
  const double clean =
      m["zcnet_transfer_zerocopy_completions_total{strategy=\"msg-zerocopy\",kernel_copied="
        "\"false\"}"];
  EXPECT_GT(flagged, 0) << text;  // loopback copies every zero-copy send
  EXPECT_EQ(clean, 0) << text;
}

// --local-sendfile-max moves that line: at 8M the 5 MiB body goes by sendfile too, at 0 the
// Profile decides every size (the 1 MiB body, above its sendfile window, by the cached mapping).
TEST_P(HttpMetrics, LocalSendfileMaxFlag_MovesTheChoice) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  write_file(root_ + "/f1048576.bin", pattern(1 << 20, 9));
  auto get = [](const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  };
  for (auto [flag, strategy] : {std::pair{"8M", "sendfile"}, std::pair{"0", "mmap"}}) {
    start({"--metrics", "127.0.0.1:0", "--local-sendfile-max", flag});
    ASSERT_NE(metrics_port(), 0) << server_->log();
    const std::string target = std::string(flag) == "0" ? "/f1048576.bin" : "/f5242880.bin";
    const std::uint64_t sent = bytes_of(get(target));
    ASSERT_GT(sent, std::string(flag) == "0" ? (1u << 20) : kBig);
    std::string text;
    auto m = scrape(&text);
    EXPECT_EQ(m["zcnet_http_response_bytes_total{strategy=\"" + std::string(strategy) + "\"}"],
              static_cast<double>(sent))
        << flag << "\n"
        << text;
    server_.reset();
  }
}

// An idle keep-alive connection holds no request buffer: after each of 40 connections got its
// answer, none holds one; a connection in the middle of a request does, until it completes, and
// the idle ones still answer their next request.
TEST_P(HttpMetrics, IdleKeepAliveConnectionsHoldNoBuffer) {
  start({"--metrics", "127.0.0.1:0"});
  ASSERT_NE(metrics_port(), 0) << server_->log();
  std::vector<HttpClient> conns;
  for (int i = 0; i < 40; ++i) {
    conns.push_back(client());
    auto r = conns.back().request("/hello.txt");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  auto partial = client();
  ASSERT_TRUE(partial.send("GET /hello.txt HTTP/1.1\r\nHo"));  // half a request: a buffer
  std::map<std::string, double> m;
  std::string text;
  for (int i = 0; i < 100; ++i) {
    m = scrape(&text);
    if (m["zcnet_http_open_connections"] == 41 && m["zcnet_http_busy_connections"] == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(m["zcnet_http_open_connections"], 41) << text;
  EXPECT_EQ(m["zcnet_http_busy_connections"], 1) << text;
  ASSERT_TRUE(partial.send("st: h\r\n\r\n"));
  auto r = partial.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (auto& c : conns) {  // each idle connection answers again, byte-exact
    auto again = c.request("/hello.txt");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
    EXPECT_EQ(again->body, "hello, world\n");
  }
  for (int i = 0; i < 100; ++i) {
    m = scrape(&text);
    if (m["zcnet_http_busy_connections"] == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(m["zcnet_http_busy_connections"], 0) << text;
  EXPECT_EQ(m["zcnet_http_open_connections"], 41) << text;
}

}  // namespace
}  // namespace zcnet::test

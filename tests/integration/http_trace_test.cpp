// zcnet serve --trace-file: OTLP-JSON spans that parse and link (an incoming traceparent is the
// request span's parent, the body's transfer span is the request span's child), the trace id in
// the access log, sampling by flag and by the caller's sampled bit.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class HttpTrace : public HttpServeTest {
 protected:
  // Every span in the file, by span id.
  std::map<std::string, nlohmann::json> spans(const std::string& path) {
    std::map<std::string, nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const auto doc = nlohmann::json::parse(line);  // throws (fails the test) if not JSON
      for (const auto& rs : doc.at("resourceSpans"))
        for (const auto& ss : rs.at("scopeSpans"))
          for (const auto& s : ss.at("spans")) out[s.at("spanId").get<std::string>()] = s;
    }
    return out;
  }
  static std::string attr(const nlohmann::json& span, const std::string& key) {
    for (const auto& a : span.at("attributes"))
      if (a.at("key") == key) {
        const auto& v = a.at("value");
        return v.contains("stringValue") ? v.at("stringValue").get<std::string>()
                                         : v.at("intValue").get<std::string>();
      }
    return "(none)";
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpTrace, ::testing::Values(kReactorBackend, "uring"),
                         backend_param_name);

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParent = "00f067aa0ba902b7";

TEST_P(HttpTrace, SpansLinkToTheCallerAndTheBodyTransfer_TraceIdInTheAccessLog) {
  const std::string trace = base_ + "/spans.jsonl", log = base_ + "/access.log";
  start({"--trace-file", trace, "--access-log", log});
  {
    auto c = client();
    auto big = c.request("/f" + std::to_string(kBig) + ".bin",
                         std::string("traceparent: 00-") + kTrace + "-" + kParent +
                             "-01\r\ntracestate: congo=t61rcWkgMzE, rojo=00f067aa0ba902b7\r\n");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 200);
    EXPECT_EQ(hash_of(big->body), file_hash(kBig));
    auto missing = c.request("/nope");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
  }
  EXPECT_EQ(server_->terminate(), 0) << server_->log();  // the tracer writes what it holds

  const auto all = spans(trace);
  ASSERT_EQ(all.size(), 3u);  // the big GET and its transfer; the 404 (no body to transfer)
  const nlohmann::json* request = nullptr;
  const nlohmann::json* transfer = nullptr;
  const nlohmann::json* other = nullptr;
  for (const auto& [id, s] : all) {
    if (s.at("name") == "transfer")
      transfer = &s;
    else if (attr(s, "url.path") == "/nope")
      other = &s;
    else
      request = &s;
  }
  ASSERT_TRUE(request && transfer && other);
  EXPECT_EQ(request->at("traceId"), kTrace);
  EXPECT_EQ(request->at("parentSpanId"), kParent);
  EXPECT_EQ(request->at("kind"), 2);
  EXPECT_EQ(request->at("traceState"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  EXPECT_EQ(attr(*request, "http.response.status_code"), "200");
  EXPECT_EQ(attr(*request, "url.path"), "/f" + std::to_string(kBig) + ".bin");
  EXPECT_GT(std::stoull(attr(*request, "zcnet.bytes_sent")), kBig);  // the head, then the body
  EXPECT_EQ(transfer->at("traceId"), kTrace);
  EXPECT_EQ(transfer->at("parentSpanId"), request->at("spanId"));
  EXPECT_EQ(attr(*transfer, "zcnet.body_bytes"), std::to_string(kBig));
  EXPECT_NE(attr(*transfer, "zcnet.strategy"), "(none)");
  // What the transfer's steps did: 5 MiB take more than one socket buffer, so syscalls and
  // (on a loopback socket with a bounded buffer) waits for room.
  EXPECT_GT(std::stoull(attr(*transfer, "zcnet.syscalls")), 0u);
  EXPECT_LE(std::stoull(attr(*transfer, "zcnet.bytes_copied")), kBig);
  EXPECT_GE(std::stoll(attr(*transfer, "zcnet.waits")), 0);
  EXPECT_LE(std::stoull(attr(*transfer, "zcnet.wait_ns")),
            std::stoull(transfer->at("endTimeUnixNano").get<std::string>()) -
                std::stoull(transfer->at("startTimeUnixNano").get<std::string>()));
  EXPECT_LE(std::stoull(request->at("startTimeUnixNano").get<std::string>()),
            std::stoull(transfer->at("startTimeUnixNano").get<std::string>()));
  EXPECT_LE(std::stoull(transfer->at("endTimeUnixNano").get<std::string>()),
            std::stoull(request->at("endTimeUnixNano").get<std::string>()));
  // The request without a traceparent starts a trace of its own.
  EXPECT_NE(other->at("traceId"), kTrace);
  EXPECT_FALSE(other->contains("parentSpanId"));
  EXPECT_FALSE(other->contains("traceState"));
  EXPECT_EQ(attr(*other, "http.response.status_code"), "404");

  const std::string lines = file_text(log);
  EXPECT_NE(lines.find(".bin HTTP/1.1\" 200 "), std::string::npos) << lines;
  EXPECT_NE(lines.find(std::string("trace=") + kTrace), std::string::npos) << lines;
  EXPECT_NE(lines.find("trace=" + other->at("traceId").get<std::string>()), std::string::npos)
      << lines;
}

TEST_P(HttpTrace, NeverRecordsNewTracesButFollowsASampledCaller) {
  const std::string trace = base_ + "/spans.jsonl";
  start({"--trace-file", trace, "--trace-sample", "never"});
  {
    auto c = client();
    for (int i = 0; i < 5; ++i) ASSERT_EQ(c.request("/hello.txt")->status, 200);
    // An unsampled caller is not recorded either; a sampled one is.
    ASSERT_EQ(c.request("/hello.txt",
                        std::string("traceparent: 00-") + kTrace + "-" + kParent + "-00\r\n")
                  ->status,
              200);
    ASSERT_EQ(c.request("/hello.txt",
                        std::string("traceparent: 00-") + kTrace + "-" + kParent + "-01\r\n")
                  ->status,
              200);
    // A malformed traceparent is no parent: "never" applies.
    ASSERT_EQ(c.request("/hello.txt", "traceparent: 00-XYZ\r\n")->status, 200);
  }
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  const auto all = spans(trace);
  ASSERT_EQ(all.size(), 1u);  // hello.txt goes with its head in one write: no transfer span
  EXPECT_EQ(all.begin()->second.at("traceId"), kTrace);
  EXPECT_EQ(all.begin()->second.at("parentSpanId"), kParent);
}

TEST_P(HttpTrace, RulesRecordPathsErrorsAndNothingElse) {
  const std::string trace = base_ + "/spans.jsonl";
  start({"--trace-file", trace, "--trace-sample", "never,errors,path:/docs/=always"});
  {
    auto c = client();
    ASSERT_EQ(c.request("/hello.txt")->status, 200);              // never: not recorded
    ASSERT_EQ(c.request("/nope")->status, 404);                   // a 404 is no error: not recorded
    ASSERT_EQ(c.request("/hello.txt", "", "HEAD")->status, 200);  // no body is no error either
    ASSERT_EQ(c.request("/docs/index.html")->status, 200);        // the path rule: recorded
  }
  {
    // A download the client abandons is cut short: an error, recorded though never sampled.
    auto c = client(16 * 1024);
    ASSERT_TRUE(c.send("GET /f" + std::to_string(kBig) + ".bin HTTP/1.1\r\nHost: h\r\n\r\n"));
    char buf[4096];
    ASSERT_GT(c.recv_some(buf, sizeof buf, 0), 0);
    c.reset();
  }
  // The server sees the reset on its next send; its spans are queued when the response ends.
  std::map<std::string, nlohmann::json> all;
  for (int i = 0; i < 200 && all.size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    all = spans(trace);
  }
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  all = spans(trace);
  std::map<std::string, int> paths;
  int errors = 0;
  for (const auto& [id, s] : all) {
    if (s.at("name") != "transfer") ++paths[attr(s, "url.path")];
    if (s.at("status").at("code") == 2) ++errors;
  }
  EXPECT_EQ(paths.size(), 2u) << all.size();
  EXPECT_EQ(paths["/docs/index.html"], 1);
  EXPECT_EQ(paths["/f" + std::to_string(kBig) + ".bin"], 1);
  EXPECT_GE(errors, 1);  // the abandoned download's server span (and its transfer span)
}

// The port a "zcnet serve: admin on port N" line names (0 if none).
std::uint16_t admin_port(const ServeProcess& p) {
  const std::string log = p.log();
  const auto at = log.find("admin on port ");
  return at == std::string::npos ? 0 : static_cast<std::uint16_t>(std::atoi(log.c_str() + at + 14));
}

TEST_P(HttpTrace, AdminEndpointChangesTheSamplerAtRuntime_AndLogsIt) {
  const std::string trace = base_ + "/spans.jsonl";
  start({"--trace-file", trace, "--trace-sample", "never", "--admin", "0"});
  const std::uint16_t port = admin_port(*server_);
  ASSERT_NE(port, 0) << server_->log();
  HttpClient admin(port);
  auto got = admin.request("/trace-sample");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "never\n");
  auto c = client();
  ASSERT_EQ(c.request("/hello.txt")->status, 200);  // never: not recorded

  auto put = [&](const std::string& spec) {
    HttpClient a(port);
    return a.request("/trace-sample",
                     "Content-Length: " + std::to_string(spec.size()) + "\r\n\r\n" + spec, "PUT");
  };
  auto bad = put("sometimes");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("'sometimes'"), std::string::npos) << bad->body;
  auto ok = put("always");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "always\n");
  ASSERT_EQ(c.request("/hello.txt")->status, 200);  // recorded now
  EXPECT_TRUE(server_->wait_for_log("admin: trace-sample always (was never), asked by 127.0.0.1"))
      << server_->log();

  HttpClient cfg(port);
  auto config = cfg.request("/config");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->status, 200);
  const auto j = nlohmann::json::parse(config->body);
  EXPECT_EQ(j.at("trace-sample"), "always");
  EXPECT_EQ(j.at("trace-file"), trace);
  EXPECT_EQ(j.at("root"), root_);
  HttpClient other(port);
  EXPECT_EQ(other.request("/nope")->status, 404);

  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  const auto all = spans(trace);
  EXPECT_EQ(all.size(), 1u);  // the request after the change only
}

TEST_P(HttpTrace, AdminEndpointWithoutTracingSaysSo) {
  start({"--admin", "127.0.0.1:0"});
  const std::uint16_t port = admin_port(*server_);
  ASSERT_NE(port, 0) << server_->log();
  HttpClient a(port);
  auto r = a.request("/trace-sample", "Content-Length: 6\r\n\r\nalways", "PUT");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("--trace-file"), std::string::npos) << r->body;
}

TEST_P(HttpTrace, AdminEndpointSwitchesSyscallTiming_AndMetricsShowIt) {
  start({"--admin", "0", "--metrics", "127.0.0.1:0"});
  const std::uint16_t port = admin_port(*server_);
  ASSERT_NE(port, 0) << server_->log();
  const std::string log = server_->log();
  const auto at = log.find("metrics on port ");
  ASSERT_NE(at, std::string::npos) << log;
  const auto metrics_port = static_cast<std::uint16_t>(std::atoi(log.c_str() + at + 16));
  // The sum of every syscall's _count, and whether timing says it is on.
  auto timed = [&](bool* on) {
    HttpClient m(metrics_port);
    auto r = m.request("/metrics");
    EXPECT_TRUE(r && r->status == 200);
    if (!r) return std::uint64_t{0};
    if (on) *on = r->body.find("zcnet_syscall_timing_enabled 1\n") != std::string::npos;
    std::uint64_t n = 0;
    for (auto p = r->body.find("zcnet_syscall_duration_seconds_count{"); p != std::string::npos;
         p = r->body.find("zcnet_syscall_duration_seconds_count{", p + 1))
      n += std::stoull(r->body.substr(r->body.find(' ', p) + 1));
    return n;
  };
  auto put = [&](const std::string& v) {
    HttpClient a(port);
    return a.request("/syscall-timing",
                     "Content-Length: " + std::to_string(v.size()) + "\r\n\r\n" + v, "PUT");
  };
  auto c = client();
  HttpClient a(port);
  EXPECT_EQ(a.request("/syscall-timing")->body, "off\n");
  ASSERT_EQ(c.request("/f" + std::to_string(kBig) + ".bin")->status, 200);
  bool on = true;
  const std::uint64_t before = timed(&on);
  EXPECT_FALSE(on);
  auto bad = put("sometimes");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto yes = put("on\n");
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->status, 200);
  EXPECT_TRUE(server_->wait_for_log("admin: syscall-timing on (was off), asked by 127.0.0.1"))
      << server_->log();
  auto big = c.request("/f" + std::to_string(kBig) + ".bin");
  ASSERT_TRUE(big);
  EXPECT_EQ(hash_of(big->body), file_hash(kBig));
  const std::uint64_t during = timed(&on);
  EXPECT_TRUE(on);
  EXPECT_GT(during, before);  // the request's reads and the body's sends, at least
  ASSERT_EQ(put("off")->status, 200);
  ASSERT_EQ(c.request("/hello.txt")->status, 200);
  EXPECT_EQ(timed(&on), during);  // off: nothing more, the counts kept
  EXPECT_FALSE(on);
  HttpClient cfg(port);
  EXPECT_EQ(nlohmann::json::parse(cfg.request("/config")->body).at("syscall-timing"), false);
}

}  // namespace
}  // namespace zcnet::test

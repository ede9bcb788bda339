// Tracing: traceparent parsing by the W3C rules, the samplers' rates (within statistical bounds)
// and whole-trace decisions, the OTLP-JSON shape, and the Tracer's file, queue and drop count.
#include "zcnet/observe/trace.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zcnet {
namespace {

using namespace std::chrono_literals;

constexpr const char* kExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, TheSpecExampleRoundTrips) {
  auto c = parse_traceparent(kExample);
  ASSERT_TRUE(c);
  EXPECT_EQ(hex(c->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(hex(c->span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled());
  EXPECT_EQ(format_traceparent(*c), kExample);
  auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled());
}

TEST(Traceparent, InvalidValuesAreNoParent) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // v00 with more
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // later version, no dash
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
  // A later version may carry more fields after a dash; the first four are read as version 00's.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
}

TEST(Sampler, BadSpecsAreRefusedWithTheReason) {
  for (const char* bad :
       {"sometimes", "ratio:", "ratio:1.5", "ratio:-0.1", "ratio:x", "rate:-1", "rate:abc"}) {
    auto s = Sampler::parse(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message().find(bad), std::string::npos) << s.error().message();
  }
  EXPECT_EQ(Sampler::parse("ratio:0.25")->describe(), "ratio:0.25");
}

TEST(Sampler, AlwaysAndNever) {
  auto always = Sampler::parse("always").value();
  auto never = Sampler::parse("never").value();
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    const TraceId id = random_trace_id();
    EXPECT_TRUE(always.sample_root(id, now));
    EXPECT_FALSE(never.sample_root(id, now));
  }
}

// Over n independent ids, the count kept by ratio:p is binomial(n, p): it must fall within 5
// standard deviations of n * p (a false failure about once in 3.5 million runs).
TEST(Sampler, RatioKeepsItsShareWithinStatisticalBounds) {
  const auto now = std::chrono::steady_clock::now();
  constexpr int n = 200000;
  for (const double p : {0.01, 0.1, 0.5}) {
    auto s = Sampler::parse("ratio:" + std::to_string(p)).value();
    int kept = 0;
    for (int i = 0; i < n; ++i) kept += s.sample_root(random_trace_id(), now) ? 1 : 0;
    const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(kept, mean, 5 * sd) << "p=" << p;
  }
  auto none = Sampler::parse("ratio:0").value();
  auto all = Sampler::parse("ratio:1").value();
  const TraceId id = random_trace_id();
  EXPECT_FALSE(none.sample_root(id, now));
  EXPECT_TRUE(all.sample_root(id, now));
}

TEST(Sampler, RatioDecidesByTheTraceIdSoEveryServiceAgrees) {
  const auto now = std::chrono::steady_clock::now();
  auto a = Sampler::parse("ratio:0.3").value();
  auto b = Sampler::parse("ratio:0.3").value();
  for (int i = 0; i < 10000; ++i) {
    const TraceId id = random_trace_id();
    const bool first = a.sample_root(id, now);
    EXPECT_EQ(first, b.sample_root(id, now));
    EXPECT_EQ(first, a.sample_root(id, now + 1s));
  }
}

TEST(Sampler, RateKeepsAtMostNPerSecond) {
  auto s = Sampler::parse("rate:100").value();
  const auto t0 = std::chrono::steady_clock::now();
  int kept = 0;
  // 10,000 decisions over 10 simulated seconds: a full bucket (100) plus 100 per second.
  for (int i = 0; i < 10000; ++i)
    kept += s.sample_root(random_trace_id(), t0 + std::chrono::milliseconds(i)) ? 1 : 0;
  EXPECT_GE(kept, 1090);
  EXPECT_LE(kept, 1100);
  auto zero = Sampler::parse("rate:0").value();
  int zero_kept = 0;
  for (int i = 0; i < 100; ++i) zero_kept += zero.sample_root(random_trace_id(), t0 + i * 1s);
  EXPECT_LE(zero_kept, 1);  // the bucket starts with one token, and never refills
}

TEST(TracePolicy, RulesParseAndApply) {
  const auto now = std::chrono::steady_clock::now();
  auto p = TracePolicy::parse("ratio:0,errors,slower:250ms,path:/api/=always").value();
  EXPECT_EQ(p.describe(), "ratio:0,errors,slower:250ms,path:/api/=always");
  EXPECT_TRUE(p.keeps_tails());
  const TraceId id = random_trace_id();
  EXPECT_TRUE(p.sample_root("/api/v1/x", id, now));  // the path rule's sampler
  EXPECT_FALSE(p.sample_root("/static/a.css", id, now));
  EXPECT_TRUE(p.keep(true, 1ms, "", id, now));
  EXPECT_TRUE(p.keep(false, 251ms, "", id, now));
  EXPECT_FALSE(p.keep(false, 249ms, "", id, now));
  auto only_rules = TracePolicy::parse("slower:2s").value();  // no sampler: never, plus the rule
  EXPECT_FALSE(only_rules.sample_root("/", id, now));
  EXPECT_FALSE(only_rules.keep(true, 1s, "", id, now));
  EXPECT_TRUE(only_rules.keep(false, 3s, "", id, now));
  auto plain = TracePolicy::parse("always").value();
  EXPECT_FALSE(plain.keeps_tails());
  EXPECT_FALSE(plain.keep(true, 100s, "", id, now));
}

// upstream:NAME=S decides at the end, by S, for connections that went to NAME: the same trace
// id gives the same answer (ratio), others are left to the other rules.
TEST(TracePolicy, UpstreamRulesDecideAtTheEnd) {
  const auto now = std::chrono::steady_clock::now();
  auto p = TracePolicy::parse("never,upstream:10.0.0.2:80=always,upstream:10.0.0.3:80=ratio:0.5")
               .value();
  EXPECT_EQ(p.describe(), "never,upstream:10.0.0.2:80=always,upstream:10.0.0.3:80=ratio:0.5");
  EXPECT_TRUE(p.keeps_tails());
  const TraceId id = random_trace_id();
  EXPECT_FALSE(p.sample_root("", id, now));
  EXPECT_TRUE(p.keep(false, 1ms, "10.0.0.2:80", id, now));
  EXPECT_FALSE(p.keep(false, 1ms, "10.0.0.9:80", id, now));
  EXPECT_FALSE(p.keep(false, 1ms, "", id, now));
  int kept = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const TraceId t = random_trace_id();
    const bool k = p.keep(false, 1ms, "10.0.0.3:80", t, now);
    EXPECT_EQ(k, p.keep(false, 1ms, "10.0.0.3:80", t, now));  // decided by the id
    kept += k ? 1 : 0;
  }
  // binomial(4000, 0.5): sd ~31.6; 5 sd either side
  EXPECT_NEAR(kept, n / 2, 160);
  EXPECT_FALSE(TracePolicy::parse("always,upstream:=always"));
  EXPECT_FALSE(TracePolicy::parse("always,upstream:a:1"));
  EXPECT_FALSE(TracePolicy::parse("always,upstream:a:1=sometimes"));
}

TEST(TracePolicy, BadRulesAreRefusedWithTheItem) {
  for (const char* bad : {"always,sometimes", "always,slower:", "always,slower:-1s",
                          "always,slower:fast", "always,slower:1e300s", "always,path:/a",
                          "always,path:=always", "always,path:/a=maybe", "errors,always"}) {
    auto p = TracePolicy::parse(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message().find("trace sampler"), std::string::npos) << p.error().message();
  }
}

std::string temp_path(const char* name) {
  return std::string(::testing::TempDir()) + name + std::to_string(::getpid());
}

TEST(Tracer, AParentsTraceAndFlagAreKept) {
  const std::string path = temp_path("tracer_parent");
  auto t = Tracer::open({.file = path, .sample = "never"}).value();
  const auto parent = parse_traceparent(kExample);
  const TraceContext c = t->start(parent);
  EXPECT_EQ(c.trace_id, parent->trace_id);
  EXPECT_NE(c.span_id, parent->span_id);
  EXPECT_TRUE(c.sampled());  // the parent's flag wins over "never"
  auto unsampled = parent;
  unsampled->flags = 0;
  auto always = Tracer::open({.file = path, .sample = "always"}).value();
  EXPECT_FALSE(always->start(unsampled).sampled());  // and over "always"
  EXPECT_TRUE(always->start(std::nullopt).sampled());
  EXPECT_FALSE(t->start(std::nullopt).sampled());
  ::unlink(path.c_str());
}

TEST(Tracer, WritesOtlpJsonLinesThatLinkParentAndChild) {
  const std::string path = temp_path("tracer_otlp");
  ::unlink(path.c_str());
  auto t = Tracer::open({.file = path, .sample = "always", .service = "svc \"q\""}).value();
  const TraceContext req = t->start(std::nullopt);
  Span parent{.trace_id = req.trace_id, .span_id = req.span_id, .name = "GET /a\"b"};
  parent.start_ns = 1000;
  parent.end_ns = 5000;
  parent.strings = {{"http.request.method", "GET"}};
  parent.numbers = {{"http.response.status_code", 200}};
  Span child{.trace_id = req.trace_id,
             .span_id = random_span_id(),
             .parent_id = req.span_id,
             .name = "transfer",
             .kind = 1};
  child.start_ns = 2000;
  child.end_ns = 4000;
  child.error = true;
  ASSERT_TRUE(t->emit(parent));
  ASSERT_TRUE(t->emit(child));
  t->flush();
  EXPECT_EQ(t->spans_written(), 2u);
  std::ifstream in(path);
  std::set<std::string> ids;
  std::string line;
  std::vector<nlohmann::json> spans;
  while (std::getline(in, line)) {
    const auto doc = nlohmann::json::parse(line);
    const auto& rs = doc.at("resourceSpans").at(0);
    EXPECT_EQ(rs.at("resource").at("attributes").at(0).at("value").at("stringValue"), "svc \"q\"");
    for (const auto& s : rs.at("scopeSpans").at(0).at("spans")) spans.push_back(s);
  }
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].at("name"), "GET /a\"b");
  EXPECT_FALSE(spans[0].contains("parentSpanId"));
  EXPECT_EQ(spans[0].at("traceId"), hex(req.trace_id));
  EXPECT_EQ(spans[0].at("kind"), 2);
  EXPECT_EQ(spans[0].at("startTimeUnixNano"), "1000");
  EXPECT_EQ(spans[0].at("attributes").at(1).at("value").at("intValue"), "200");
  EXPECT_EQ(spans[1].at("parentSpanId"), spans[0].at("spanId"));
  EXPECT_EQ(spans[1].at("traceId"), spans[0].at("traceId"));
  EXPECT_EQ(spans[1].at("status").at("code"), 2);
  ::unlink(path.c_str());
}

TEST(Tracer, AFullQueueDropsAndCounts) {
  const std::string path = temp_path("tracer_full");
  auto t = Tracer::open({.file = path, .sample = "always", .queue_spans = 4}).value();
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) accepted += t->emit(Span{.name = "x"}) ? 1 : 0;
  t->flush();
  EXPECT_EQ(t->spans_written() + t->spans_dropped(), 10000u);
  EXPECT_EQ(t->spans_written(), static_cast<std::uint64_t>(accepted));
  ::unlink(path.c_str());
}

// The policy can be swapped while other threads decide (the admin endpoint does this).
TEST(Tracer, SetSampleSwapsThePolicyWhileOtherThreadsStartTraces) {
  const std::string path = temp_path("tracer_swap");
  auto t = Tracer::open({.file = path, .sample = "never"}).value();
  EXPECT_FALSE(t->keeps_tails());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sampled{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
    workers.emplace_back([&] {
      while (!stop.load()) sampled += t->start(std::nullopt, "/a").sampled() ? 1 : 0;
    });
  ASSERT_FALSE(t->set_sample("sometimes"));  // refused: the old policy stays
  EXPECT_EQ(t->sample(), "never");
  ASSERT_TRUE(t->set_sample("always,errors"));
  EXPECT_EQ(t->sample(), "always,errors");
  EXPECT_TRUE(t->keeps_tails());
  EXPECT_TRUE(t->keep(true, 1ms, "", random_trace_id()));
  while (sampled.load() == 0) std::this_thread::yield();  // the new policy reaches the threads
  ASSERT_TRUE(t->set_sample("never"));
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_FALSE(t->start(std::nullopt).sampled());
  ::unlink(path.c_str());
}

TEST(Tracer, AnUnopenableFileIsAnErrorNamingIt) {
  auto t = Tracer::open({.file = "/nonexistent-dir/spans.jsonl"});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("/nonexistent-dir/spans.jsonl"), std::string::npos);
  EXPECT_EQ(t.error().code(), ENOENT);
  auto bad = Tracer::open({.file = "-", .sample = "maybe"});
  ASSERT_FALSE(bad);
}

TEST(TraceState, CheckedMembersAreCarriedOn) {
  EXPECT_EQ(parse_tracestate("congo=t61rcWkgMzE"), "congo=t61rcWkgMzE");
  // Blanks around members and empty members go; the order stays.
  EXPECT_EQ(parse_tracestate(" rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE\t"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(parse_tracestate("tenant1@vendor=a b"), "tenant1@vendor=a b");
  EXPECT_EQ(parse_tracestate("k=v "), "k=v");  // a blank after the member, not in its value
  std::string many;
  for (int i = 0; i < 32; ++i) many += fmt::format("k{}=v,", i);
  EXPECT_TRUE(parse_tracestate(many));
}

TEST(TraceState, AnythingElseIsDropped) {
  for (const char* bad :
       {"", " , ", "Upper=x", "k", "k=", "k=a,b", "k=a=b", "_k=v", "k@=v", "k@Vendor=v", "k=\x01"})
    EXPECT_FALSE(parse_tracestate(bad)) << bad;
  std::string many;
  for (int i = 0; i < 33; ++i) many += fmt::format("k{}=v,", i);
  EXPECT_FALSE(parse_tracestate(many));                          // 33 members
  EXPECT_FALSE(parse_tracestate("k=" + std::string(600, 'v')));  // over 512 characters
}

TEST(TraceState, WrittenIntoTheSpan) {
  Span s{.trace_state = "congo=t61rcWkgMzE", .name = "GET"};
  const std::string out = otlp_json({s}, "svc");
  EXPECT_NE(out.find(R"("traceState":"congo=t61rcWkgMzE")"), std::string::npos) << out;
  s.trace_state.clear();
  EXPECT_EQ(otlp_json({s}, "svc").find("traceState"), std::string::npos);
  EXPECT_TRUE(nlohmann::json::accept(out));
}

}  // namespace
}  // namespace zcnet

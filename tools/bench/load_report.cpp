// `zcnet load`'s report: the active clients (throughput and latency), every connection attempt,
// the idle connections and their periodic requests, and this process's own cost; as text or as
// one JSON object (keys in docs/bench.md).
#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "bench/load_run.hpp"

namespace zcnet::cli {

namespace {

nlohmann::json latency_json(const Histogram& h) {
  return {{"p50", h.percentile(50)},
          {"p99", h.percentile(99)},
          {"p999", h.percentile(99.9)},
          {"max", h.max()},
          {"mean", h.mean()}};
}

double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

std::string by_name(const std::map<std::string, std::uint64_t>& m) {
  std::string out;
  for (const auto& [name, n] : m) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

void print_json(const LoadState& s, const Usage& u, double elapsed, double rate) {
  const LoadArgs& a = s.args;
  nlohmann::json j{{"protocol", s.active_request.http ? "http" : "length"},
                   {"connections", a.connections},
                   {"size", s.active_request.http ? s.first_size : s.active_request.size},
                   {"transfers", s.transfers},
                   {"bytes", s.bytes},
                   {"elapsed_s", elapsed},
                   {"throughput_bytes_per_s", rate},
                   {"transfers_per_s", elapsed > 0 ? s.transfers / elapsed : 0.0},
                   {"latency_ns", latency_json(s.latency)},
                   {"cpu_user_s", u.user},
                   {"cpu_sys_s", u.sys},
                   {"voluntary_ctx", u.voluntary_switches},
                   {"involuntary_ctx", u.involuntary_switches},
                   {"errors", s.errors},
                   {"non_2xx", s.non_2xx},
                   {"cut", s.cut},
                   {"backend", to_string(s.loop.backend())}};
  if (s.active_request.http) j["path"] = a.http_path;
  if (!s.first_error.empty()) j["error"] = s.first_error;
  j["connect"] = {{"attempted", s.connects.attempted},
                  {"established", s.connects.established},
                  {"failed", s.connects.failed},
                  {"failures", s.connects.failures},
                  {"latency_ns", latency_json(s.connects.latency)}};
  if (!s.connects.first_failure.empty()) j["connect"]["error"] = s.connects.first_failure;
  j["idle"] = {{"requested", a.idle},
               {"established", s.idle.established},
               {"held", s.idle.held_at_end},
               {"lost", s.idle.lost},
               {"interval_s", a.idle_interval},
               {"ramp_s", s.ramp_seconds},
               {"sent", s.idle.sent},
               {"answered", s.idle.answered},
               {"unanswered", s.idle.unanswered},
               {"failures", s.idle.failures},
               {"latency_ns", latency_json(s.idle.latency)}};
  if (!s.idle.first_failure.empty()) j["idle"]["error"] = s.idle.first_failure;
  j["process"] = {{"peak_fds", s.peak.fds}, {"peak_rss_bytes", s.peak.rss_bytes}};
  fmt::print("{}\n", j.dump());
}

void print_text(const LoadState& s, const Usage& u, double elapsed, double rate) {
  const LoadArgs& a = s.args;
  const double per_s = elapsed > 0 ? s.transfers / elapsed : 0.0;
  if (s.active_request.http)
    fmt::print(
        "load: {} responses to GET {} ({} B) over {} connections in {:.3f} s = {:.1f} MB/s, "
        "{:.0f}/s\n",
        s.transfers, a.http_path, s.bytes, a.connections, elapsed, rate / 1e6, per_s);
  else
    fmt::print("load: {} transfers of {} over {} connections in {:.3f} s = {:.2f} GB/s, {:.0f}/s\n",
               s.transfers, format_size(s.active_request.size), a.connections, elapsed, rate / 1e9,
               per_s);
  fmt::print("  latency p50 {:.3f} ms, p99 {:.3f} ms, p99.9 {:.3f} ms, max {:.3f} ms\n",
             ms(s.latency.percentile(50)), ms(s.latency.percentile(99)),
             ms(s.latency.percentile(99.9)), ms(s.latency.max()));
  fmt::print(
      "  CPU user {:.3f} s sys {:.3f} s, context switches {} + {} involuntary, "
      "errors {}, cut at the deadline {}\n",
      u.user, u.sys, u.voluntary_switches, u.involuntary_switches, s.errors, s.cut);
  const ConnectCounts& c = s.connects;
  fmt::print(
      "  connections: {} attempted, {} established, {} failed{}; connect p50 {:.3f} ms, "
      "p99 {:.3f} ms, max {:.3f} ms\n",
      c.attempted, c.established, c.failed,
      c.failures.empty() ? "" : " (" + by_name(c.failures) + ")", ms(c.latency.percentile(50)),
      ms(c.latency.percentile(99)), ms(c.latency.max()));
  if (a.idle > 0) {
    const IdleCounts& i = s.idle;
    fmt::print(
        "  idle: {} of {} held at the end (ramp {:.2f} s); {} requests every {} s: {} "
        "answered, {} unanswered{}; p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n",
        i.held_at_end, a.idle, s.ramp_seconds, i.sent, a.idle_interval, i.answered, i.unanswered,
        i.failures.empty() ? "" : " (" + by_name(i.failures) + ")", ms(i.latency.percentile(50)),
        ms(i.latency.percentile(99)), ms(i.latency.max()));
  }
  fmt::print("  this process: peak {} open fds, peak RSS {:.1f} MiB\n", s.peak.fds,
             static_cast<double>(s.peak.rss_bytes) / (1 << 20));
}

}  // namespace

void print_report(const LoadState& s, const Usage& u, double elapsed) {
  const double rate = elapsed > 0 ? static_cast<double>(s.bytes) / elapsed : 0;
  if (s.args.json)
    print_json(s, u, elapsed, rate);
  else
    print_text(s, u, elapsed, rate);
}

}  // namespace zcnet::cli

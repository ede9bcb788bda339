// Request tracing: W3C Trace Context (traceparent), head samplers and a span writer
// that emits OpenTelemetry's OTLP/HTTP JSON shape, one ExportTraceServiceRequest per line.
//
//   auto tracer = Tracer::open({.file = "spans.jsonl", .sample = "ratio:0.01"}).value();
//   TraceContext span = tracer->start(parse_traceparent(header));  // the request's own span
//   if (span.sampled()) tracer->emit(std::move(finished_span));      // any thread
//
// The hot path only decides and fills a Span; encoding and writing happen on the Tracer's own
// thread, fed through a bounded queue that it empties every 50 ms (or as soon as it is half
// full): when the queue is full a span is dropped and counted, never waited for.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};
  std::uint8_t flags = 0;  // bit 0: sampled
  bool sampled() const noexcept { return flags & 1; }
  bool valid() const noexcept;  // neither id all zero
};

// A `traceparent` header value (W3C Trace Context level 1): "00-<32 hex>-<16 hex>-<2 hex>",
// lowercase; a later version may append "-..." fields. nullopt for anything else (version ff,
// all-zero ids, wrong length or case), which a receiver must treat as no parent at all.
std::optional<TraceContext> parse_traceparent(std::string_view value) noexcept;
std::string format_traceparent(const TraceContext& c);
// A `tracestate` header value (W3C Trace Context level 1) checked before it is carried on: at most
// 32 list members of key=value (keys: lowercase letter or digit first, then [a-z0-9_*/-], an
// optional @vendor part; values: printable ASCII without ',' and '=', not ending in a space), at
// most 512 characters, blanks around members and empty members dropped. nullopt for anything
// else: the state is then not carried (the spec lets a receiver discard what it cannot parse).
std::optional<std::string> parse_tracestate(std::string_view value);
std::string hex(std::span<const std::uint8_t> bytes);

// Random ids from a per-thread generator seeded from the OS (never all zero).
TraceId random_trace_id() noexcept;
SpanId random_span_id() noexcept;

// Head sampling of traces that start here; a request that arrives with a traceparent follows its
// sampled flag (parent-based, as OpenTelemetry's default), so a trace is kept or dropped whole.
//   always | never | ratio:P (0 <= P <= 1, decided from the trace id, the same way everywhere)
//   | rate:N (at most N new traces per second, a token bucket shared by every thread)
class Sampler {
 public:
  enum class Kind : std::uint8_t { Always, Never, Ratio, Rate };
  static Result<Sampler> parse(std::string_view spec);
  Sampler() = default;
  Sampler(const Sampler& o) { *this = o; }
  Sampler& operator=(const Sampler& o);  // copies the rule and the bucket's current state
  // Whether a new trace with this id is recorded (`now`: the clock the rate limit counts in).
  bool sample_root(const TraceId& id, std::chrono::steady_clock::time_point now) noexcept;
  std::string describe() const;

 private:
  Kind kind_ = Kind::Never;
  double ratio_ = 0;
  double rate_ = 0;
  mutable std::mutex mu_;  // the token bucket (rate only)
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_{};
};

// A --trace-sample spec: a Sampler for new traces, then rules, all comma-separated:
//   errors          record every request that ends in an error, whatever the samplers said
//   slower:T        record every request slower than T ("250ms", "2s"; a bare number is seconds)
//   path:PREFIX=S   a new trace whose path starts with PREFIX is sampled by S (first match wins)
//   upstream:NAME=S a trace the samplers left out is recorded at its end if S samples it and it
//                   went to the upstream named NAME (the proxy's HOST:PORT as configured)
// e.g. "ratio:0.01,errors,slower:500ms,path:/api/=ratio:0.5". The first item may itself be a
// rule; the Sampler is then "never".
class TracePolicy {
 public:
  static Result<TracePolicy> parse(std::string_view spec);
  bool sample_root(std::string_view path, const TraceId& id,
                   std::chrono::steady_clock::time_point now) noexcept;
  // Whether a request the samplers left out is still recorded once it is over.
  bool keeps_tails() const noexcept {
    return errors_ || slower_.count() > 0 || !upstreams_.empty();
  }
  // `upstream`: where the traffic went (empty: nowhere, or no upstreams); `id`: the trace's.
  bool keep(bool error, std::chrono::nanoseconds took, std::string_view upstream, const TraceId& id,
            std::chrono::steady_clock::time_point now) noexcept;
  std::string describe() const;

 private:
  Sampler base_;
  std::vector<std::pair<std::string, Sampler>> paths_;
  std::vector<std::pair<std::string, Sampler>> upstreams_;
  bool errors_ = false;
  std::chrono::nanoseconds slower_{0};  // 0: no rule
};

// One finished operation. Times are Unix-epoch nanoseconds.
struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_id{};       // all zero: a root span
  std::string trace_state;  // the caller's tracestate, carried on (empty: none)
  std::string name;
  int kind = 2;  // OTLP SpanKind: 1 internal, 2 server
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  bool error = false;
  std::vector<std::pair<std::string, std::string>> strings;   // string attributes
  std::vector<std::pair<std::string, std::int64_t>> numbers;  // int attributes
};

std::uint64_t unix_nanos() noexcept;  // system_clock now
// One OTLP/HTTP JSON ExportTraceServiceRequest holding `spans` (service.name = `service`).
std::string otlp_json(const std::vector<Span>& spans, std::string_view service);

struct TracerOptions {
  std::string file;                // "-": standard output
  std::string sample = "always";   // a TracePolicy spec
  std::string service = "zcnet";   // resource attribute service.name
  std::size_t queue_spans = 8192;  // spans waiting to be written; more are dropped and counted
};

class Tracer {
 public:
  // Opens (appends to) the file and starts the writer thread.
  static Result<std::shared_ptr<Tracer>> open(TracerOptions options);
  ~Tracer();  // writes what is queued, then stops
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // The context of a new server span: the parent's trace (and its sampled flag) when there is a
  // parent, else a new trace sampled by the policy (`path`: the request's, for path rules).
  TraceContext start(const std::optional<TraceContext>& parent, std::string_view path = {});
  // Whether the policy may record a request the samplers left out (errors, slower:T,
  // upstream:NAME=S), and whether it records this one, now that its outcome, time and upstream
  // are known.
  bool keeps_tails() const noexcept { return tails_.load(std::memory_order_relaxed); }
  bool keep(bool error, std::chrono::nanoseconds took, std::string_view upstream = {},
            const TraceId& id = {}) const;
  // The policy in force, as a spec; and a new one from a spec, in force for the next request
  // (any thread; the old one stays if the spec is bad).
  std::string sample() const;
  Result<void> set_sample(std::string_view spec);
  // Queues a finished span (any thread); false if the queue was full and it was dropped.
  bool emit(Span span);
  // Blocks until every span queued so far is written.
  void flush();

  std::uint64_t spans_written() const noexcept { return written_.load(); }
  std::uint64_t spans_dropped() const noexcept { return dropped_.load(); }
  const TracerOptions& options() const noexcept { return options_; }

 private:
  Tracer(TracerOptions options, std::unique_ptr<TracePolicy> policy, UniqueFd fd);
  void drain();

  TracerOptions options_;
  mutable std::mutex policy_mu_;  // guards policy_ (a root trace's decision, a swap)
  std::unique_ptr<TracePolicy> policy_;
  std::atomic<bool> tails_{false};
  UniqueFd fd_;
  std::mutex mu_;
  std::condition_variable cv_;  // work for the writer, or a flush finished
  std::deque<Span> queue_;
  std::uint64_t queued_ = 0;   // spans ever queued (under mu_)
  std::uint64_t done_ = 0;     // spans ever written or failed (under mu_)
  bool flush_wanted_ = false;  // flush() waits: write now, not at the next tick
  bool stop_ = false;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread writer_;
};

class PrometheusText;
// zcnet_trace_spans_total{outcome="written"|"dropped"}: what `t` wrote and lost.
void write_trace_metrics(PrometheusText& p, const Tracer& t);

}  // namespace zcnet

// W3C traceparent, samplers, OTLP-JSON encoding and the Tracer's writer thread (trace.hpp).
#include "zcnet/observe/trace.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "zcnet/observe/prometheus.hpp"
#include "zcnet/sys/observe_switch.hpp"

namespace zcnet {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not allowed by the spec
}

template <std::size_t N>
bool parse_hex(std::string_view s, std::array<std::uint8_t, N>& out) noexcept {
  if (s.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
  return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; });
}

std::mt19937_64& generator() {
  thread_local std::mt19937_64 g([] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }());
  return g;
}

template <std::size_t N>
std::array<std::uint8_t, N> random_id() noexcept {
  std::array<std::uint8_t, N> id{};
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      const std::uint64_t v = generator()();
      std::memcpy(id.data() + i, &v, std::min<std::size_t>(8, N - i));
    }
  } while (all_zero(id));
  return id;
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;  // bytes >= 0x80 pass through (a target that is not UTF-8 stays as sent)
    }
  }
  out += '"';
}

}  // namespace

bool TraceContext::valid() const noexcept {
  return !all_zero(trace_id) && !all_zero(span_id);
}

std::optional<TraceContext> parse_traceparent(std::string_view v) noexcept {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  std::array<std::uint8_t, 1> version{}, flags{};
  TraceContext c;
  if (!parse_hex(v.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && v.size() != 55) return std::nullopt;
  if (v.size() > 55 && v[55] != '-') return std::nullopt;  // a later version's extra fields
  if (!parse_hex(v.substr(3, 32), c.trace_id) || !parse_hex(v.substr(36, 16), c.span_id) ||
      !parse_hex(v.substr(53, 2), flags) || !c.valid())
    return std::nullopt;
  c.flags = flags[0];
  return c;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) fmt::format_to(std::back_inserter(s), "{:02x}", b);
  return s;
}

std::string format_traceparent(const TraceContext& c) {
  return fmt::format("00-{}-{}-{:02x}", hex(c.trace_id), hex(c.span_id), c.flags);
}

TraceId random_trace_id() noexcept {
  return random_id<16>();
}
SpanId random_span_id() noexcept {
  return random_id<8>();
}

Result<Sampler> Sampler::parse(std::string_view spec) {
  Sampler s;
  const auto number = [&](std::string_view text, double& out) {
    const std::string t(text);  // from_chars for double is not in every libstdc++ we build with
    char* end = nullptr;
    errno = 0;
    out = std::strtod(t.c_str(), &end);
    return !t.empty() && end == t.c_str() + t.size() && errno == 0 && std::isfinite(out);
  };
  if (spec == "always") {
    s.kind_ = Kind::Always;
  } else if (spec == "never") {
    s.kind_ = Kind::Never;
  } else if (spec.starts_with("ratio:")) {
    s.kind_ = Kind::Ratio;
    if (!number(spec.substr(6), s.ratio_) || s.ratio_ < 0 || s.ratio_ > 1)
      return Error(EINVAL, "trace sampler", fmt::format("'{}': P must be in [0, 1]", spec));
  } else if (spec.starts_with("rate:")) {
    s.kind_ = Kind::Rate;
    if (!number(spec.substr(5), s.rate_) || s.rate_ < 0)
      return Error(EINVAL, "trace sampler", fmt::format("'{}': N must be >= 0", spec));
    s.tokens_ = std::max(1.0, s.rate_);  // a full bucket: one second's worth
  } else {
    return Error(EINVAL, "trace sampler",
                 fmt::format("'{}' is none of always, never, ratio:P, rate:N", spec));
  }
  return s;
}

Sampler& Sampler::operator=(const Sampler& o) {
  if (this == &o) return *this;
  std::scoped_lock lock(mu_, o.mu_);
  kind_ = o.kind_;
  ratio_ = o.ratio_;
  rate_ = o.rate_;
  tokens_ = o.tokens_;
  refilled_ = o.refilled_;
  return *this;
}

bool Sampler::sample_root(const TraceId& id, std::chrono::steady_clock::time_point now) noexcept {
  switch (kind_) {
    case Kind::Always:
      return true;
    case Kind::Never:
      return false;
    case Kind::Ratio: {
      // OpenTelemetry's TraceIdRatioBased: the id's last 8 bytes as a number below P * 2^64, so
      // every service that sees this trace id with the same P decides the same way.
      std::uint64_t v = 0;
      for (std::size_t i = 8; i < 16; ++i) v = v << 8 | id[i];
      if (ratio_ >= 1) return true;
      return static_cast<double>(v) < ratio_ * 18446744073709551616.0;
    }
    case Kind::Rate: {
      std::lock_guard lock(mu_);
      if (refilled_ != std::chrono::steady_clock::time_point{}) {
        const double secs = std::chrono::duration<double>(now - refilled_).count();
        tokens_ = std::min(std::max(1.0, rate_), tokens_ + std::max(0.0, secs) * rate_);
      }
      refilled_ = now;
      if (tokens_ < 1) return false;
      tokens_ -= 1;
      return true;
    }
  }
  return false;
}

std::string Sampler::describe() const {
  switch (kind_) {
    case Kind::Always:
      return "always";
    case Kind::Never:
      return "never";
    case Kind::Ratio:
      return fmt::format("ratio:{}", ratio_);
    case Kind::Rate:
      return fmt::format("rate:{}", rate_);
  }
  return "?";
}

Result<TracePolicy> TracePolicy::parse(std::string_view spec) {
  TracePolicy p;
  const auto bad = [&](std::string_view item, std::string_view why) {
    return Error(EINVAL, "trace sampler", fmt::format("'{}' in '{}': {}", item, spec, why));
  };
  bool first = true;
  std::size_t at = 0;
  do {
    const std::size_t comma = spec.find(',', at);
    const std::string_view item =
        spec.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    at = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (item == "errors") {
      p.errors_ = true;
    } else if (item.starts_with("slower:")) {
      std::string t(item.substr(7));
      double scale = 1;
      if (t.ends_with("ms")) {
        scale = 1e-3;
        t.resize(t.size() - 2);
      } else if (t.ends_with("s")) {
        t.resize(t.size() - 1);
      }
      char* end = nullptr;
      const double v = std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size() || !(v > 0) || !(v * scale < 1e9))
        return bad(item, "T must be a positive time such as 250ms or 2s (below 1e9 s)");
      p.slower_ = std::chrono::nanoseconds(static_cast<std::int64_t>(v * scale * 1e9));
    } else if (item.starts_with("path:") || item.starts_with("upstream:")) {
      // KIND:KEY=SAMPLER, into the rules of that kind.
      const bool path = item.starts_with("path:");
      const std::size_t colon = item.find(':'), eq = item.find('=');
      if (eq == std::string_view::npos || eq == colon + 1)
        return bad(item, path ? "a path rule is path:PREFIX=SAMPLER"
                              : "an upstream rule is upstream:NAME=SAMPLER");
      auto s = Sampler::parse(item.substr(eq + 1));
      if (!s) return std::move(s).error();
      (path ? p.paths_ : p.upstreams_)
          .emplace_back(std::string(item.substr(colon + 1, eq - colon - 1)), *s);
    } else if (first) {
      auto s = Sampler::parse(item);
      if (!s) return std::move(s).error();
      p.base_ = *s;
    } else {
      return bad(item,
                 "after the first item only errors, slower:T, path:PREFIX=S and upstream:NAME=S "
                 "may follow");
    }
    first = false;
  } while (at <= spec.size());
  return p;
}

bool TracePolicy::sample_root(std::string_view path, const TraceId& id,
                              std::chrono::steady_clock::time_point now) noexcept {
  for (auto& [prefix, s] : paths_)
    if (path.starts_with(prefix)) return s.sample_root(id, now);
  return base_.sample_root(id, now);
}

std::string TracePolicy::describe() const {
  std::string out = base_.describe();
  if (errors_) out += ",errors";
  if (slower_.count() > 0)
    fmt::format_to(std::back_inserter(out), ",slower:{}ms",
                   std::chrono::duration<double, std::milli>(slower_).count());
  for (const auto& [prefix, s] : paths_)
    fmt::format_to(std::back_inserter(out), ",path:{}={}", prefix, s.describe());
  for (const auto& [name, s] : upstreams_)
    fmt::format_to(std::back_inserter(out), ",upstream:{}={}", name, s.describe());
  return out;
}

std::uint64_t unix_nanos() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

namespace {

bool tracestate_key(std::string_view k) noexcept {
  const auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  const auto rest = [&](char c) {
    return lower_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
  };
  const auto part = [&](std::string_view p, std::size_t max) {
    if (p.empty() || p.size() > max || !lower_digit(p[0])) return false;
    for (char c : p.substr(1))
      if (!rest(c)) return false;
    return true;
  };
  const auto at = k.find('@');
  if (at == std::string_view::npos) return part(k, 256);
  return part(k.substr(0, at), 241) && part(k.substr(at + 1), 14);
}

bool tracestate_value(std::string_view v) noexcept {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (char c : v)
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  return true;
}

}  // namespace

std::optional<std::string> parse_tracestate(std::string_view value) {
  if (value.size() > 512) return std::nullopt;
  std::string out;
  std::size_t members = 0;
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view m = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    if (m.empty()) continue;
    const auto eq = m.find('=');
    if (eq == std::string_view::npos || !tracestate_key(m.substr(0, eq)) ||
        !tracestate_value(m.substr(eq + 1)) || ++members > 32)
      return std::nullopt;
    if (!out.empty()) out += ',';
    out += m;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string otlp_json(const std::vector<Span>& spans, std::string_view service) {
  std::string out = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name",)"
                    R"("value":{"stringValue":)";
  json_string(out, service);
  out += R"(}}]},"scopeSpans":[{"scope":{"name":"zcnet"},"spans":[)";
  bool first = true;
  for (const Span& s : spans) {
    if (!first) out += ',';
    first = false;
    fmt::format_to(std::back_inserter(out), R"({{"traceId":"{}","spanId":"{}",)", hex(s.trace_id),
                   hex(s.span_id));
    if (!all_zero(s.parent_id))
      fmt::format_to(std::back_inserter(out), R"("parentSpanId":"{}",)", hex(s.parent_id));
    if (!s.trace_state.empty()) {
      out += R"("traceState":)";
      json_string(out, s.trace_state);
      out += ',';
    }
    out += R"("name":)";
    json_string(out, s.name);
    // OTLP JSON carries 64-bit integers as strings.
    fmt::format_to(std::back_inserter(out),
                   R"(,"kind":{},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":[)",
                   s.kind, s.start_ns, s.end_ns);
    bool first_attr = true;
    for (const auto& [k, v] : s.strings) {
      if (!first_attr) out += ',';
      first_attr = false;
      out += R"({"key":)";
      json_string(out, k);
      out += R"(,"value":{"stringValue":)";
      json_string(out, v);
      out += "}}";
    }
    for (const auto& [k, v] : s.numbers) {
      if (!first_attr) out += ',';
      first_attr = false;
      out += R"({"key":)";
      json_string(out, k);
      fmt::format_to(std::back_inserter(out), R"(,"value":{{"intValue":"{}"}}}})", v);
    }
    // STATUS_CODE_ERROR = 2, STATUS_CODE_UNSET = 0
    fmt::format_to(std::back_inserter(out), R"(],"status":{{"code":{}}}}})", s.error ? 2 : 0);
  }
  out += "]}]}]}";
  return out;
}

Result<std::shared_ptr<Tracer>> Tracer::open(TracerOptions options) {
  if constexpr (!kObserve)
    return Error(ENOTSUP, "tracing", "this build (compiled with ZCNET_OBSERVE=OFF)");
  auto policy = TracePolicy::parse(options.sample);
  if (!policy) return std::move(policy).error();
  UniqueFd fd;
  if (options.file == "-") {
    fd.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0));
    if (!fd) return last_error("trace file", "standard output");
  } else {
    fd.reset(::open(options.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) return last_error("open trace file", options.file);
  }
  if (options.queue_spans == 0) options.queue_spans = 1;
  return std::shared_ptr<Tracer>(new Tracer(
      std::move(options), std::make_unique<TracePolicy>(std::move(*policy)), std::move(fd)));
}

Tracer::Tracer(TracerOptions options, std::unique_ptr<TracePolicy> policy, UniqueFd fd)
    : options_(std::move(options)), policy_(std::move(policy)), fd_(std::move(fd)) {
  tails_.store(policy_->keeps_tails());
  writer_ = std::thread([this] { drain(); });
}

Tracer::~Tracer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

TraceContext Tracer::start(const std::optional<TraceContext>& parent, std::string_view path) {
  TraceContext c;
  c.span_id = random_span_id();
  if (parent) {
    c.trace_id = parent->trace_id;
    c.flags = parent->sampled() ? 1 : 0;
  } else {
    c.trace_id = random_trace_id();
    std::lock_guard lock(policy_mu_);
    c.flags = policy_->sample_root(path, c.trace_id, std::chrono::steady_clock::now()) ? 1 : 0;
  }
  return c;
}

// The writer wakes on its own every kWriterTick, or early when the queue is half full, so that a
// span costs its emitter a lock and a push, not a wake-up of another thread.
constexpr auto kWriterTick = std::chrono::milliseconds(50);

bool TracePolicy::keep(bool error, std::chrono::nanoseconds took, std::string_view upstream,
                       const TraceId& id, std::chrono::steady_clock::time_point now) noexcept {
  if ((errors_ && error) || (slower_.count() > 0 && took > slower_)) return true;
  for (auto& [name, s] : upstreams_)
    if (upstream == name) return s.sample_root(id, now);
  return false;
}

bool Tracer::keep(bool error, std::chrono::nanoseconds took, std::string_view upstream,
                  const TraceId& id) const {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(policy_mu_);
  return policy_->keep(error, took, upstream, id, now);
}

std::string Tracer::sample() const {
  std::lock_guard lock(policy_mu_);
  return policy_->describe();
}

Result<void> Tracer::set_sample(std::string_view spec) {
  auto parsed = TracePolicy::parse(spec);
  if (!parsed) return std::move(parsed).error();
  auto next = std::make_unique<TracePolicy>(std::move(*parsed));
  std::lock_guard lock(policy_mu_);
  tails_.store(next->keeps_tails(), std::memory_order_relaxed);
  policy_ = std::move(next);
  return {};
}

bool Tracer::emit(Span span) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_spans) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(span));
    ++queued_;
    wake = queue_.size() == (options_.queue_spans + 1) / 2;
  }
  if (wake) cv_.notify_all();
  return true;
}

void Tracer::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = queued_;
  flush_wanted_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return done_ >= target; });
}

void Tracer::drain() {
  std::vector<Span> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stop_) return;
      flush_wanted_ = false;
      cv_.wait_for(lock, kWriterTick, [&] {
        return stop_ || flush_wanted_ || queue_.size() >= (options_.queue_spans + 1) / 2;
      });
      if (queue_.empty()) continue;
    }
    batch.clear();
    while (!queue_.empty() && batch.size() < 512) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    std::string line = otlp_json(batch, options_.service);
    line += '\n';
    std::size_t off = 0;
    while (off < line.size()) {
      const ssize_t w = ::write(fd_.get(), line.data() + off, line.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;  // a trace file that cannot be written must not stop the server
      off += static_cast<std::size_t>(w);
    }
    if (off == line.size())
      written_.fetch_add(batch.size(), std::memory_order_relaxed);
    else
      dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
    lock.lock();
    done_ += batch.size();
    cv_.notify_all();
  }
}

void write_trace_metrics(PrometheusText& p, const Tracer& t) {
  p.family("zcnet_trace_spans_total", "counter",
           "Spans handed to the trace file (written), or lost: the queue to its writer thread was "
           "full or the write failed (dropped).");
  p.sample("zcnet_trace_spans_total", {{"outcome", "written"}}, t.spans_written());
  p.sample("zcnet_trace_spans_total", {{"outcome", "dropped"}}, t.spans_dropped());
}

}  // namespace zcnet

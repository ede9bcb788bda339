// The Proxy: configuration generations (open, reload), the accept loops, the per-worker
// watchdog (idle timeouts, the access log, pipe gauge), graceful shutdown, and the metrics.
#include "zcnet/proxy/proxy.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "proxy/config.hpp"
#include "proxy/connection.hpp"
#include "proxy/metrics.hpp"
#include "proxy/relay.hpp"
#include "proxy/worker.hpp"
#include "zcnet/observe/process_metrics.hpp"
#include "zcnet/observe/prometheus.hpp"
#include "zcnet/observe/syscall_timing.hpp"

namespace zcnet::proxy {

using namespace std::chrono_literals;

std::string_view to_string(Balance b) noexcept {
  switch (b) {
    case Balance::RoundRobin:
      return "roundrobin";
    case Balance::LeastConn:
      return "leastconn";
    case Balance::Source:
      return "source";
  }
  return "?";
}

std::optional<Balance> parse_balance(std::string_view name) noexcept {
  for (Balance b : {Balance::RoundRobin, Balance::LeastConn, Balance::Source})
    if (name == to_string(b)) return b;
  return std::nullopt;
}

std::optional<ProxyHeader> parse_proxy_header(std::string_view name) noexcept {
  if (name == "v1") return ProxyHeader::V1;
  if (name == "v2") return ProxyHeader::V2;
  if (name == "none" || name.empty()) return ProxyHeader::None;
  return std::nullopt;
}

std::string_view to_string(DataPath p) noexcept {
  switch (p) {
    case DataPath::Auto:
      return "auto";
    case DataPath::Splice:
      return "splice";
    case DataPath::UringSplice:
      return "uring-splice";
    case DataPath::Copy:
      return "copy";
  }
  return "?";
}

std::optional<DataPath> parse_data_path(std::string_view name) noexcept {
  for (DataPath p : {DataPath::Auto, DataPath::Splice, DataPath::UringSplice, DataPath::Copy})
    if (name == to_string(p)) return p;
  return std::nullopt;
}

std::string_view to_string(Close c) noexcept {
  static constexpr std::string_view names[kCloseKinds] = {"done",        "reset", "idle-timeout",
                                                          "no-upstream", "error", "shutdown"};
  return names[static_cast<std::size_t>(c)];
}

Result<Address> resolve_address(std::string_view host_port) {
  const std::string s(host_port);
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    return Error(EINVAL, "parse address", "'" + s + "' is not HOST:PORT");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), s.c_str() + colon + 1, &hints, &res);
  if (rc != 0) return Error(EINVAL, "getaddrinfo", s + ": " + ::gai_strerror(rc));
  Address a;
  std::memcpy(&a.addr, res->ai_addr, std::min<std::size_t>(res->ai_addrlen, sizeof a.addr));
  a.len = static_cast<socklen_t>(res->ai_addrlen);
  a.name = s;
  ::freeaddrinfo(res);
  return a;
}

namespace {

Error invalid(std::string what) {
  return Error(EINVAL, "proxy options", std::move(what));
}

Result<std::unique_ptr<MirrorTarget>> open_mirror(const MirrorOptions& m) {
  auto t = std::make_unique<MirrorTarget>();
  t->reconnect_after = m.reconnect_after;
  if (m.target.rfind("tcp:", 0) == 0) {
    auto a = resolve_address(m.target.substr(4));
    if (!a) return std::move(a).error();
    t->address = std::move(*a);
    return t;
  }
  if (m.target.rfind("file:", 0) == 0 && m.target.size() > 5) {
    t->file = true;
    t->path = m.target.substr(5);
    t->fd.reset(::open(t->path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (!t->fd) return last_error("open mirror file", t->path);
    const off_t end = ::lseek(t->fd.get(), 0, SEEK_END);
    t->end.store(end > 0 ? static_cast<std::uint64_t>(end) : 0);
    return t;
  }
  return invalid("mirror '" + m.target + "' is neither tcp:HOST:PORT nor file:PATH");
}

}  // namespace

Result<std::shared_ptr<const Config>> Proxy::build(ProxyOptions o) {
  if (o.listeners.empty()) return invalid("no listener");
  if (o.max_attempts == 0) return invalid("max_attempts must be at least 1");
  if (o.max_connections == 0) return invalid("max_connections must be at least 1");
  if ((o.path == DataPath::Splice || o.path == DataPath::UringSplice) && !splice_available())
    return Error(EOPNOTSUPP, "proxy options", "splice is not available here (use auto or copy)");
  UniqueFd log;
  if (o.access_log_fd >= 0) {
    log.reset(::fcntl(o.access_log_fd, F_DUPFD_CLOEXEC, 0));
    if (!log) return last_error("dup access log");
  }
  std::set<std::string> names;
  for (auto& l : o.listeners) {
    if (l.name.empty()) l.name = l.listen;
    if (!names.insert(l.name).second) return invalid("two listeners are named '" + l.name + "'");
    if (l.upstreams.empty()) return invalid("listener " + l.name + " has no upstream");
    if (l.upstreams.size() > 64)
      return invalid("listener " + l.name + " has more than 64 upstreams");
    if (l.health.rise == 0 || l.health.fall == 0)
      return invalid("listener " + l.name + ": rise and fall must be at least 1");
  }
  auto config = std::make_shared<Config>(o, std::move(log));
  std::lock_guard lock(mu_);
  for (const ListenerOptions& lo : config->options_.listeners) {
    auto lc = std::make_unique<ListenerConfig>();
    lc->options = lo;
    std::vector<Upstream> ups;
    for (const UpstreamOptions& uo : lo.upstreams) {
      if (uo.weight == 0 || uo.weight > 256)
        return invalid(
            fmt::format("upstream {}: weight {} is not in 1..256", uo.address, uo.weight));
      auto a = resolve_address(uo.address);
      if (!a) return std::move(a).error();
      Upstream u{std::move(*a), uo.weight, uo.backup, nullptr};
      for (const auto& s : states_)
        if (s->listener == lo.name && s->name == uo.address) u.state = s;
      if (!u.state) {
        u.state = std::make_shared<UpstreamState>(lo.name, uo.address);
        states_.push_back(u.state);
      }
      ups.push_back(std::move(u));
    }
    lc->pool = std::make_unique<UpstreamPool>(lc->options, std::move(ups));
    if (!lo.mirror.target.empty()) {
      auto m = open_mirror(lo.mirror);
      if (!m) return std::move(m).error();
      lc->mirror = std::move(*m);
    }
    config->listeners_.push_back(std::move(lc));
  }
  return std::shared_ptr<const Config>(std::move(config));
}

Result<std::unique_ptr<Proxy>> Proxy::open(ProxyOptions options) {
  std::unique_ptr<Proxy> p(new Proxy());
  const std::size_t max = options.max_connections;
  auto config = p->build(std::move(options));
  if (!config) return std::move(config).error();
  p->config_ = std::move(*config);
  p->max_connections_ = max;
  return p;
}

Proxy::~Proxy() = default;

Result<void> Proxy::reload(ProxyOptions options) {
  const auto current = config();
  const auto& was = current->options();
  if (options.listeners.size() != was.listeners.size())
    return invalid("a reload cannot add or remove listeners (restart for that)");
  for (std::size_t i = 0; i < options.listeners.size(); ++i)
    if (options.listeners[i].listen != was.listeners[i].listen)
      return invalid("a reload cannot move listener " + was.listeners[i].listen);
  options.path = was.path;
  options.pipe_bytes = was.pipe_bytes;
  options.max_pipes = was.max_pipes;
  const std::size_t max = options.max_connections;
  auto config = build(std::move(options));
  if (!config) return std::move(config).error();
  {
    std::lock_guard lock(mu_);
    config_ = std::move(*config);
    max_connections_ = max;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

std::shared_ptr<const Config> Proxy::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

bool Proxy::try_enter() noexcept {
  std::size_t n = connections_.load();
  do {
    if (n >= max_connections_.load()) return false;
  } while (!connections_.compare_exchange_weak(n, n + 1));
  return true;
}

Proxy::WorkerMetrics& Proxy::add_worker_metrics() {
  std::lock_guard lock(mu_);
  metrics_.push_back(std::make_unique<WorkerMetrics>());
  return *metrics_.back();
}

void Proxy::write_metrics(std::string& out) const {
  std::lock_guard lock(mu_);
  PrometheusText p(out);
  auto sum = [&](auto member) {
    std::uint64_t n = 0;
    for (const auto& m : metrics_) n += ((*m).*member).value();
    return n;
  };
  p.family("zcnet_proxy_open_connections", "gauge", "Client connections open now.");
  p.sample("zcnet_proxy_open_connections", {}, std::uint64_t{connections_.load()});
  p.family("zcnet_proxy_accepted_total", "counter", "Client connections taken in.");
  p.sample("zcnet_proxy_accepted_total", {}, sum(&WorkerMetrics::accepted));
  p.family("zcnet_proxy_refused_total", "counter",
           "Client connections closed at once: max_connections reached.");
  p.sample("zcnet_proxy_refused_total", {}, sum(&WorkerMetrics::refused));
  p.family("zcnet_proxy_closed_total", "counter", "Client connections ended, by how.");
  for (std::size_t k = 0; k < kCloseKinds; ++k) {
    std::uint64_t n = 0;
    for (const auto& m : metrics_) n += m->closed[k].value();
    p.sample("zcnet_proxy_closed_total", {{"how", to_string(static_cast<Close>(k))}}, n);
  }
  p.family("zcnet_proxy_pipes_in_use", "gauge", "Pipes leased by flows and mirrors now.");
  std::uint64_t pipes = 0;
  for (const auto& m : metrics_) pipes += m->pipes_leased.load(std::memory_order_relaxed);
  p.sample("zcnet_proxy_pipes_in_use", {}, pipes);
  p.family("zcnet_proxy_pipe_fallbacks_total", "counter",
           "Bursts copied through a buffer because no pipe could be leased.");
  p.sample("zcnet_proxy_pipe_fallbacks_total", {}, sum(&WorkerMetrics::pipe_fallbacks));
  p.family("zcnet_proxy_mirror_bytes_total", "counter", "Bytes for the mirror, sent or dropped.");
  p.sample("zcnet_proxy_mirror_bytes_total", {{"result", "sent"}},
           sum(&WorkerMetrics::mirror_sent));
  p.sample("zcnet_proxy_mirror_bytes_total", {{"result", "dropped"}},
           sum(&WorkerMetrics::mirror_dropped));
  p.family("zcnet_proxy_mirror_cuts_total", "counter",
           "Mirror connections cut because the mirror fell behind or failed.");
  p.sample("zcnet_proxy_mirror_cuts_total", {}, sum(&WorkerMetrics::mirror_cuts));

  // Per upstream of the current configuration.
  const auto each = [&](std::string_view name, std::string_view type, std::string_view help,
                        auto value) {
    p.family(name, type, help);
    for (std::size_t li = 0; li < config_->listeners(); ++li)
      for (const Upstream& u : config_->listener(li).pool->upstreams())
        p.sample(name, {{"listener", u.state->listener}, {"upstream", u.state->name}},
                 std::uint64_t{value(*u.state)});
  };
  each("zcnet_proxy_upstream_up", "gauge", "1 if the upstream takes connections (health).",
       [](const UpstreamState& s) { return s.up.load() ? 1u : 0u; });
  each("zcnet_proxy_upstream_active_connections", "gauge", "Connections relayed to it now.",
       [](const UpstreamState& s) { return s.active.load(); });
  each("zcnet_proxy_upstream_connections_total", "counter", "Connections relayed to it.",
       [](const UpstreamState& s) { return s.connections.load(); });
  each("zcnet_proxy_upstream_connect_errors_total", "counter", "Connect attempts that failed.",
       [](const UpstreamState& s) { return s.connect_errors.load(); });
  each("zcnet_proxy_upstream_retries_total", "counter",
       "Connections it took after a connect to another upstream failed.",
       [](const UpstreamState& s) { return s.retries.load(); });
  each("zcnet_proxy_upstream_checks_failed_total", "counter", "Active health checks that failed.",
       [](const UpstreamState& s) { return s.checks_failed.load(); });
  each("zcnet_proxy_upstream_transitions_total", "counter",
       "Health changes (up to down, down to up).",
       [](const UpstreamState& s) { return s.transitions.load(); });
  p.family("zcnet_proxy_bytes_total", "counter",
           "Bytes relayed, by upstream, direction and data path.");
  static constexpr std::string_view ways[2] = {"to_upstream", "to_client"};
  static constexpr std::string_view paths[kPathSlots] = {"splice", "copy", "uring-splice"};
  for (std::size_t li = 0; li < config_->listeners(); ++li)
    for (const Upstream& u : config_->listener(li).pool->upstreams())
      for (int w = 0; w < 2; ++w)
        for (std::size_t k = 0; k < kPathSlots; ++k)
          p.sample("zcnet_proxy_bytes_total",
                   {{"listener", u.state->listener},
                    {"upstream", u.state->name},
                    {"direction", ways[w]},
                    {"path", paths[k]}},
                   u.state->bytes[w][k].load(std::memory_order_relaxed));
  {
    std::vector<const PoolGauges*> pools;
    for (const auto& m : metrics_) pools.push_back(&m->pools);
    write_pool_metrics(p, pools);
  }
  if (const Tracer* t = config_->options().tracer.get()) write_trace_metrics(p, *t);
  write_syscall_metrics(p);
  write_process_metrics(p);
}

namespace {

Task<void> watchdog(Worker& w, CancelToken stop) {
  for (;;) {
    const auto tick = std::clamp<Clock::duration>(w.options().idle_timeout / 4, 20ms, 1s);
    auto r = co_await w.loop().sleep_for(tick, stop);
    if (!r) break;
    (void)w.config();  // a reload reaches the access log even without new connections
    w.check_idle(Clock::now());
    w.flush_log();
  }
}

// Accepts with Loop::accept_once (an awaiter: no by-value IoOptions crosses a co_await, which
// g++ 12 at -O2 mishandled in this coroutine) and pauses itself on EMFILE/ENFILE.
Task<void> accept_loop(Worker& w, std::size_t listener, UniqueFd fd) {
  Loop& loop = w.loop();
  const CancelToken stop = loop.shutdown_token();
  const IoOptions io(stop);  // named: no temporaries inside co_await (loop.hpp)
  bool paused = false;
  for (;;) {
    auto client = co_await loop.accept_once(fd.get(), io);
    if (!client) {
      const int err = client.error().code();
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        if (!paused)
          fmt::print(stderr, "zcnet proxy: accept: {}: pausing accepts\n",
                     client.error().message());
        paused = true;
        auto slept = co_await loop.sleep_for(loop.options().accept_pause, stop);
        if (!slept) break;
        continue;
      }
      if (err == ECONNABORTED || err == EINTR || err == EPROTO) continue;
      if (err != ECANCELED)
        fmt::print(stderr, "zcnet proxy: accept: {}\n", client.error().message());
      break;
    }
    paused = false;
    if (w.proxy().try_enter()) {
      w.conns().spawn(proxy_connection(w, listener, std::move(*client)));
    } else {
      w.metrics().refused.add();
      loop.close(std::move(*client));
    }
  }
  loop.close(std::move(fd));  // queued connections are refused from here on
}

}  // namespace

Task<void> Proxy::run(Loop& loop, std::vector<UniqueFd> listeners, bool health_checks) {
  if (config_->options().path == DataPath::UringSplice && loop.backend() != BackendKind::Uring)
    throw std::invalid_argument("proxy: the uring-splice path needs the uring loop backend");
  Worker w(loop, *this);
  CancelSource helpers_stop;
  TaskGroup helpers(loop);
  helpers.spawn(watchdog(w, helpers_stop.token()));
  if (health_checks) helpers.spawn(run_health_checks(*this, loop, helpers_stop.token()));
  {
    TaskGroup accepts(loop);
    const std::size_t n = std::min(listeners.size(), w.config()->listeners());
    for (std::size_t i = 0; i < n; ++i) accepts.spawn(accept_loop(w, i, std::move(listeners[i])));
    (void)co_await accepts.join();
  }
  w.start_draining();
  if (!co_await w.conns().join(Clock::now() + w.options().shutdown_grace)) {
    fmt::print(stderr, "zcnet proxy: {} connection(s) still open after the grace period: closed\n",
               w.conns().size());
    w.cancel_all();
    (void)co_await w.conns().join();
  }
  helpers_stop.cancel();
  (void)co_await helpers.join();
}

}  // namespace zcnet::proxy

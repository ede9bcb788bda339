#include "proxy_config.hpp"

#include <fmt/format.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "commands.hpp"
#include "sizes.hpp"

namespace zcnet::cli {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

milliseconds seconds(double s, std::string_view name) {
  if (!(s >= 0)) throw std::runtime_error(fmt::format("{} must be >= 0 seconds", name));
  return milliseconds(static_cast<std::int64_t>(s * 1000));
}

proxy::Balance balance_named(const std::string& s) {
  auto b = proxy::parse_balance(s);
  if (!b)
    throw std::runtime_error(
        fmt::format("unknown balance '{}' (valid: roundrobin, leastconn, source)", s));
  return *b;
}

proxy::ProxyHeader proxy_header_named(const std::string& s) {
  auto h = proxy::parse_proxy_header(s);
  if (!h) throw std::runtime_error(fmt::format("unknown send-proxy '{}' (valid: v1, v2, none)", s));
  return *h;
}

proxy::DataPath path_named(const std::string& s) {
  auto p = proxy::parse_data_path(s);
  if (!p)
    throw std::runtime_error(
        fmt::format("unknown path '{}' (valid: auto, splice, uring-splice, copy)", s));
  return *p;
}

// A JSON reader that names the file and key in every complaint.
struct Reader {
  const std::string& file;
  [[noreturn]] void fail(std::string_view where, std::string_view what) const {
    throw std::runtime_error(fmt::format("--config {}: \"{}\" {}", file, where, what));
  }
  std::string str(const json& v, std::string_view where) const {
    if (!v.is_string()) fail(where, "must be a string");
    return v.get<std::string>();
  }
  double num(const json& v, std::string_view where) const {
    if (!v.is_number() || v.get<double>() < 0) fail(where, "must be a number >= 0");
    return v.get<double>();
  }
  std::uint64_t whole(const json& v, std::string_view where) const {
    if (!v.is_number_unsigned()) fail(where, "must be a whole number >= 0");
    return v.get<std::uint64_t>();
  }
  bool flag(const json& v, std::string_view where) const {
    if (!v.is_boolean()) fail(where, "must be true or false");
    return v.get<bool>();
  }
  void unknown(std::string_view where, const std::string& key) const {
    throw std::runtime_error(
        fmt::format("--config {}: unknown key \"{}\" in {}", file, key, where));
  }
};

std::string key_name(std::string k) {
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

void read_health(const Reader& r, const json& h, proxy::HealthOptions& o) {
  if (!h.is_object()) r.fail("health", "must be an object");
  for (const auto& [k, v] : h.items()) {
    const std::string key = key_name(k);
    if (key == "interval")
      o.interval = seconds(r.num(v, "health.interval"), "health.interval");
    else if (key == "timeout")
      o.timeout = seconds(r.num(v, "health.timeout"), "health.timeout");
    else if (key == "rise")
      o.rise = static_cast<unsigned>(r.whole(v, "health.rise"));
    else if (key == "fall")
      o.fall = static_cast<unsigned>(r.whole(v, "health.fall"));
    else if (key == "http-path")
      o.http_path = r.str(v, "health.http-path");
    else if (key == "expect-status")
      o.expect_status = static_cast<int>(r.whole(v, "health.expect-status"));
    else
      r.unknown("health", k);
  }
}

proxy::ListenerOptions read_listener(const Reader& r, const json& l) {
  if (!l.is_object()) r.fail("listeners", "must hold objects");
  proxy::ListenerOptions o;
  for (const auto& [k, v] : l.items()) {
    const std::string key = key_name(k);
    if (key == "name") {
      o.name = r.str(v, "name");
    } else if (key == "listen") {
      o.listen = r.str(v, "listen");
    } else if (key == "upstreams") {
      if (!v.is_array()) r.fail("upstreams", "must be an array");
      for (const json& u : v) {
        proxy::UpstreamOptions uo;
        if (u.is_string()) {
          uo.address = u.get<std::string>();
        } else if (u.is_object()) {
          for (const auto& [uk, uv] : u.items()) {
            const std::string ukey = key_name(uk);
            if (ukey == "address")
              uo.address = r.str(uv, "upstreams[].address");
            else if (ukey == "weight")
              uo.weight = static_cast<unsigned>(r.whole(uv, "upstreams[].weight"));
            else if (ukey == "backup")
              uo.backup = r.flag(uv, "upstreams[].backup");
            else
              r.unknown("an upstream", uk);
          }
        } else {
          r.fail("upstreams", "must hold \"HOST:PORT\" strings or objects");
        }
        if (uo.address.empty()) r.fail("upstreams[].address", "is required");
        o.upstreams.push_back(std::move(uo));
      }
    } else if (key == "balance") {
      o.balance = balance_named(r.str(v, "balance"));
    } else if (key == "health") {
      read_health(r, v, o.health);
    } else if (key == "passive-fall") {
      o.passive_fall = static_cast<unsigned>(r.whole(v, "passive-fall"));
    } else if (key == "send-proxy") {
      o.send_proxy = proxy_header_named(r.str(v, "send-proxy"));
    } else if (key == "mirror") {
      o.mirror.target = r.str(v, "mirror");
    } else if (key == "mirror-both-ways") {
      o.mirror.both_ways = r.flag(v, "mirror-both-ways");
    } else {
      r.unknown("a listener", k);
    }
  }
  if (o.listen.empty()) r.fail("listen", "is required in every listener");
  return o;
}

void read_config(const std::string& path, ProxySetup& s, ProxyArgs& top) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("--config {}: cannot open it", path));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("--config {}: not JSON: {}", path, e.what()));
  }
  if (!doc.is_object())
    throw std::runtime_error(fmt::format("--config {}: want a JSON object", path));
  const Reader r{path};
  for (const auto& [k, v] : doc.items()) {
    const std::string key = key_name(k);
    if (key == "listeners") {
      if (!v.is_array()) r.fail("listeners", "must be an array");
      for (const json& l : v) s.options.listeners.push_back(read_listener(r, l));
    } else if (key == "workers") {
      top.workers = r.whole(v, key);
    } else if (key == "backend") {
      top.backend = r.str(v, key);
    } else if (key == "path") {
      top.path = r.str(v, key);
    } else if (key == "max-connections") {
      top.max_connections = r.whole(v, key);
    } else if (key == "connect-timeout") {
      top.connect_timeout = r.num(v, key);
    } else if (key == "idle-timeout") {
      top.idle_timeout = r.num(v, key);
    } else if (key == "grace") {
      top.grace = r.num(v, key);
    } else if (key == "metrics") {
      top.metrics = r.str(v, key);
    } else if (key == "admin") {
      top.admin = r.str(v, key);
    } else if (key == "access-log") {
      top.access_log = r.str(v, key);
    } else if (key == "trace-file") {
      top.trace_file = r.str(v, key);
    } else if (key == "trace-sample") {
      top.trace_sample = r.str(v, key);
    } else if (key == "max-pipes") {
      top.max_pipes = r.whole(v, key);
    } else if (key == "pipe-size") {
      top.pipe_size = r.str(v, key);
    } else if (key == "notsent-lowat") {
      top.notsent_lowat = r.str(v, key);
    } else {
      throw std::runtime_error(fmt::format("--config {}: unknown key \"{}\"", path, k));
    }
  }
}

}  // namespace

void add_proxy_options(CLI::App* cmd, ProxyCommandLine& line) {
  ProxyArgs& a = line.args;
  cmd->add_option("--config", a.config,
                  "JSON file: these options as top-level keys and a \"listeners\" array (several "
                  "listeners, upstream weights, backups); flags given here override it; re-read "
                  "on SIGHUP");
  cmd->add_option("--listen", a.listen, "ADDR:PORT to accept clients on (port 0: any)");
  cmd->add_option("--upstream", a.upstreams, "ADDR:PORT of an upstream (repeat for several)");
  cmd->add_option("--balance", a.balance,
                  "roundrobin (weighted), leastconn or source (client IP hash)")
      ->capture_default_str();
  cmd->add_option("--workers", a.workers, "loop threads")
      ->check(count_check(1, 1024, "worker threads"))
      ->capture_default_str();
  add_backend_option(cmd, a.backend)
      ->description(
          "event loop backend: epoll, uring, poll or auto (default: epoll where it is built, "
          "since a relay waits for readiness and epoll's edge-triggered waits cost no system "
          "call; auto: what other commands pick)");
  cmd->add_option("--path", a.path,
                  "data path of each direction: auto (splice through a pooled pipe where the "
                  "kernel allows, else copy), splice, uring-splice (each splice an io_uring "
                  "operation; uring backend, chosen when --backend is not given), or copy (a "
                  "pooled buffer)")
      ->capture_default_str();
  cmd->add_option("--max-connections", a.max_connections,
                  "client connections over all workers; beyond it new ones are closed")
      ->check(count_check(1, 100'000'000, "connections"))
      ->capture_default_str();
  cmd->add_option("--connect-timeout", a.connect_timeout, "seconds per upstream connect attempt")
      ->check(seconds_check(false))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", a.idle_timeout,
                  "seconds a connection may move no byte either way before it is closed")
      ->check(seconds_check(false))
      ->capture_default_str();
  cmd->add_option("--grace", a.grace, "seconds open connections may run on after SIGINT/SIGTERM")
      ->check(seconds_check(true))
      ->capture_default_str();
  cmd->add_option("--health-interval", a.health_interval,
                  "seconds between active checks of each upstream (0: none; failed connects "
                  "still mark an upstream down)")
      ->check(seconds_check(true))
      ->capture_default_str();
  cmd->add_option("--health-timeout", a.health_timeout, "seconds one check may take")
      ->check(seconds_check(false))
      ->capture_default_str();
  cmd->add_option("--health-path", a.health_path,
                  "check by HTTP GET of this path (default: a TCP connect)");
  cmd->add_option("--health-status", a.health_status, "the status an HTTP check expects")
      ->capture_default_str();
  cmd->add_option("--health-rise", a.health_rise, "passes in a row that bring an upstream up")
      ->check(count_check(1, 1000, "checks"))
      ->capture_default_str();
  cmd->add_option("--health-fall", a.health_fall, "failures in a row that take an upstream down")
      ->check(count_check(1, 1000, "checks"))
      ->capture_default_str();
  cmd->add_option("--mirror", a.mirror,
                  "tcp:HOST:PORT or file:PATH receiving a copy of every client -> upstream byte "
                  "(tee, no user-space copy; a mirror that falls behind loses bytes, never slows "
                  "the client)");
  cmd->add_flag("--mirror-both-ways", a.mirror_both_ways,
                "mirror upstream -> client bytes too (tcp: on a second mirror connection)");
  cmd->add_option("--metrics", a.metrics,
                  "ADDR:PORT serving Prometheus metrics at /metrics (port 0: any)");
  cmd->add_option("--admin", a.admin,
                  "[ADDR:]PORT of the admin endpoint (a port alone: 127.0.0.1): GET /config, GET "
                  "and PUT /trace-sample and /syscall-timing; every change is logged");
  cmd->add_option("--access-log", a.access_log,
                  "append one line per connection to this file (reopened on SIGHUP)");
  cmd->add_option("--trace-file", a.trace_file,
                  "append a span per relayed connection to this file as OTLP/HTTP JSON lines ('-': "
                  "standard output); nothing is added to the relayed bytes");
  cmd->add_option("--trace-sample", a.trace_sample,
                  "which connections to record: always, never, ratio:P or rate:N, then optional "
                  "rules: errors (resets, errors, no upstream), slower:T (connection lifetime), "
                  "upstream:NAME=SAMPLER (connections to that upstream)")
      ->capture_default_str();
  cmd->add_option("--send-proxy", a.send_proxy,
                  "send a PROXY protocol header (v1 or v2) to the upstream first")
      ->capture_default_str();
  cmd->add_option("--max-pipes", a.max_pipes,
                  "pipes one worker may lease at once (one per moving direction); beyond it a "
                  "direction copies")
      ->capture_default_str();
  cmd->add_option("--pipe-size", a.pipe_size, "capacity of each pipe (F_SETPIPE_SZ)")
      ->capture_default_str();
  cmd->add_option("--notsent-lowat", a.notsent_lowat,
                  "TCP_NOTSENT_LOWAT of both sockets of each connection: a socket takes more "
                  "bytes only while fewer than this wait unsent in it (0: the kernel's default)")
      ->capture_default_str();
}

void note_given_proxy_options(const CLI::App* cmd, ProxyCommandLine& line) {
  line.given.clear();
  for (const CLI::Option* o : cmd->get_options())
    if (o->count() > 0 && !o->get_lnames().empty()) line.given.insert(o->get_lnames().front());
}

ProxySetup effective_proxy_setup(const ProxyCommandLine& line) {
  ProxySetup s;
  ProxyArgs a;  // defaults, then the file's top-level keys, then the flags given
  if (!line.args.config.empty()) read_config(line.args.config, s, a);
  const ProxyArgs& f = line.args;
  const auto given = [&](const char* name) { return line.given.count(name) > 0; };
#define ZCNET_TAKE(flag, member) \
  if (given(flag)) a.member = f.member
  ZCNET_TAKE("workers", workers);
  ZCNET_TAKE("backend", backend);
  ZCNET_TAKE("path", path);
  ZCNET_TAKE("max-connections", max_connections);
  ZCNET_TAKE("connect-timeout", connect_timeout);
  ZCNET_TAKE("idle-timeout", idle_timeout);
  ZCNET_TAKE("grace", grace);
  ZCNET_TAKE("metrics", metrics);
  ZCNET_TAKE("admin", admin);
  ZCNET_TAKE("access-log", access_log);
  ZCNET_TAKE("trace-file", trace_file);
  ZCNET_TAKE("trace-sample", trace_sample);
  ZCNET_TAKE("max-pipes", max_pipes);
  ZCNET_TAKE("pipe-size", pipe_size);
  ZCNET_TAKE("notsent-lowat", notsent_lowat);
#undef ZCNET_TAKE
  if (given("listen")) {
    if (f.upstreams.empty()) throw std::runtime_error("--listen needs at least one --upstream");
    proxy::ListenerOptions l;
    l.listen = f.listen;
    for (const auto& u : f.upstreams) l.upstreams.push_back({u, 1, false});
    s.options.listeners = {l};
  } else if (given("upstream")) {
    throw std::runtime_error("--upstream goes with --listen (several listeners: --config)");
  }
  if (s.options.listeners.empty())
    throw std::runtime_error("--listen and --upstream are required (or a --config with listeners)");
  for (auto& l : s.options.listeners) {
    if (given("balance")) l.balance = balance_named(f.balance);
    if (given("health-interval")) l.health.interval = seconds(f.health_interval, "health-interval");
    if (given("health-timeout")) l.health.timeout = seconds(f.health_timeout, "health-timeout");
    if (given("health-path")) l.health.http_path = f.health_path;
    if (given("health-status")) l.health.expect_status = f.health_status;
    if (given("health-rise")) l.health.rise = f.health_rise;
    if (given("health-fall")) l.health.fall = f.health_fall;
    if (given("send-proxy")) l.send_proxy = proxy_header_named(f.send_proxy);
    if (given("mirror")) l.mirror.target = f.mirror;
    if (given("mirror-both-ways")) l.mirror.both_ways = f.mirror_both_ways;
  }
  if (a.workers == 0) throw std::runtime_error("workers must be at least 1");
  (void)backend_option_kind(a.backend);
  s.workers = a.workers;
  s.backend = a.backend;
  s.metrics = a.metrics;
  s.admin = a.admin;
  s.access_log = a.access_log;
  s.trace_file = a.trace_file;
  s.trace_sample = a.trace_sample;
  proxy::ProxyOptions& o = s.options;
  o.path = path_named(a.path);
  o.max_connections = a.max_connections;
  o.connect_timeout = seconds(a.connect_timeout, "connect-timeout");
  o.idle_timeout = seconds(a.idle_timeout, "idle-timeout");
  o.shutdown_grace = seconds(a.grace, "grace");
  if (o.connect_timeout.count() == 0 || o.idle_timeout.count() == 0)
    throw std::runtime_error("connect-timeout and idle-timeout must be > 0 seconds");
  o.max_pipes = a.max_pipes;
  o.pipe_bytes = static_cast<std::size_t>(parse_size(a.pipe_size));
  const std::uint64_t lowat = parse_size(a.notsent_lowat);
  if (lowat > std::numeric_limits<std::uint32_t>::max())
    throw std::runtime_error("notsent-lowat must be below 4 GiB");
  o.notsent_lowat = static_cast<std::uint32_t>(lowat);
  return s;
}

nlohmann::json proxy_setup_json(const ProxySetup& s) {
  const proxy::ProxyOptions& o = s.options;
  const auto secs = [](std::chrono::milliseconds d) {
    return static_cast<double>(d.count()) / 1e3;
  };
  const auto header_name = [](proxy::ProxyHeader h) {
    return std::string(h == proxy::ProxyHeader::V1   ? "v1"
                       : h == proxy::ProxyHeader::V2 ? "v2"
                                                     : "none");
  };
  // The config file's own keys and forms, so what GET /config shows can be saved and loaded.
  json j = {{"workers", s.workers},
            {"backend", s.backend.empty() ? std::string("auto") : s.backend},
            {"path", std::string(proxy::to_string(o.path))},
            {"max-connections", o.max_connections},
            {"connect-timeout", secs(o.connect_timeout)},
            {"idle-timeout", secs(o.idle_timeout)},
            {"grace", secs(o.shutdown_grace)},
            {"metrics", s.metrics},
            {"admin", s.admin},
            {"access-log", s.access_log},
            {"trace-file", s.trace_file},
            {"trace-sample", s.trace_sample},
            {"max-pipes", o.max_pipes},
            {"pipe-size", std::to_string(o.pipe_bytes)},
            {"notsent-lowat", std::to_string(o.notsent_lowat)}};
  json listeners = json::array();
  for (const proxy::ListenerOptions& l : o.listeners) {
    json ups = json::array();
    for (const proxy::UpstreamOptions& u : l.upstreams)
      ups.push_back({{"address", u.address}, {"weight", u.weight}, {"backup", u.backup}});
    json h = {{"interval", secs(l.health.interval)},
              {"timeout", secs(l.health.timeout)},
              {"rise", l.health.rise},
              {"fall", l.health.fall}};
    if (!l.health.http_path.empty()) {
      h["http-path"] = l.health.http_path;
      h["expect-status"] = l.health.expect_status;
    }
    listeners.push_back({{"name", l.name},
                         {"listen", l.listen},
                         {"balance", std::string(proxy::to_string(l.balance))},
                         {"upstreams", std::move(ups)},
                         {"health", std::move(h)},
                         {"passive-fall", l.passive_fall},
                         {"send-proxy", header_name(l.send_proxy)},
                         {"mirror", l.mirror.target},
                         {"mirror-both-ways", l.mirror.both_ways}});
  }
  j["listeners"] = std::move(listeners);
  return j;
}

}  // namespace zcnet::cli

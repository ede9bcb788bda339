// `zcnet proxy` options: the command-line flags and the JSON config file (--config). The file's
// top-level keys mirror the long options ("max-connections", "idle-timeout", ...) and its
// "listeners" array holds one object per listener (listen, upstreams with weight and backup,
// balance, health, send-proxy, mirror). Flags given on the command line override the file: a
// --listen on the command line describes the one listener (with its --upstream list), and the
// per-listener flags (--balance, --health-*, --send-proxy, --mirror) apply to every listener.
// Read at start and again on every SIGHUP.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "zcnet/proxy/proxy.hpp"

namespace zcnet::cli {

struct ProxyArgs {
  std::string config;
  std::string listen;
  std::vector<std::string> upstreams;
  std::string balance = "roundrobin";
  std::size_t workers = 1;
  std::string backend;
  std::string path = "auto";
  std::size_t max_connections = 10000;
  double connect_timeout = 5;
  double idle_timeout = 300;
  double grace = 10;
  double health_interval = 0;
  double health_timeout = 2;
  std::string health_path;
  int health_status = 200;
  unsigned health_rise = 2;
  unsigned health_fall = 3;
  std::string mirror;
  bool mirror_both_ways = false;
  std::string metrics;
  std::string admin;  // [ADDR:]PORT of the admin endpoint (admin.hpp)
  std::string access_log;
  std::string trace_file;               // OTLP-JSON spans, one per connection; "-": stdout
  std::string trace_sample = "always";  // a sampler, then rules (TracePolicy in trace.hpp)
  std::string send_proxy = "none";
  std::size_t max_pipes = 4096;
  std::string pipe_size = "1M";
  std::string notsent_lowat = "64K";
};

struct ProxyCommandLine {
  ProxyArgs args;
  std::set<std::string> given;
};

void add_proxy_options(CLI::App* cmd, ProxyCommandLine& line);
void note_given_proxy_options(const CLI::App* cmd, ProxyCommandLine& line);

// What a start (or a SIGHUP) runs with: the process settings and the proxy's options (the access
// log still to be opened: access_log_fd is -1).
struct ProxySetup {
  std::size_t workers = 1;
  std::string backend;
  std::string metrics;
  std::string admin;
  std::string access_log;
  std::string trace_file;
  std::string trace_sample;
  proxy::ProxyOptions options;
};

// Defaults, then the config file, then the flags given. Throws std::runtime_error naming the
// file and key (or the flag) for anything missing, unknown or out of range.
ProxySetup effective_proxy_setup(const ProxyCommandLine& line);

// The setup as the admin endpoint's GET /config shows it (the keys of the config file).
nlohmann::json proxy_setup_json(const ProxySetup& s);

}  // namespace zcnet::cli

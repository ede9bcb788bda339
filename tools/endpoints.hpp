// The endpoints of the serving commands. --metrics ADDR:PORT (serve, proxy, recv, load-server):
// GET /metrics in the Prometheus text format. --admin [ADDR:]PORT (serve and proxy; loopback by
// default):
//   GET /config          the options the process started with (JSON, from the command's own
//                        writer) and the sampling policy in force
//   GET /trace-sample    the sampling policy in force; PUT /trace-sample sets a new one (the
//                        body is the spec; 409 without --trace-file)
//   GET /syscall-timing  "on" or "off"; PUT /syscall-timing with "on" or "off" switches the
//                        per-syscall histograms (zcnet_syscall_duration_seconds) on or off
// Every change is logged on stderr with the client's address.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "zcnet/observe/metrics_endpoint.hpp"
#include "zcnet/observe/trace.hpp"

namespace zcnet::cli {

struct AdminHooks {
  std::string command;                              // "serve", "proxy": the log lines' prefix
  std::function<nlohmann::json()> config;           // GET /config
  std::function<std::shared_ptr<Tracer>()> tracer;  // the tracer in force (may be null)
};

// Listens on `where` ("PORT" alone: 127.0.0.1:PORT) and serves the routes above on the endpoint's
// own thread; prints the port it got.
std::unique_ptr<MetricsEndpoint> start_admin(const std::string& where, AdminHooks hooks);

// Listens on `where` (ADDR:PORT, port 0: any) and answers GET /metrics with what `collect`
// writes, on the endpoint's own thread; prints "zcnet COMMAND: metrics on port N".
std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& where, std::string_view command,
                                               MetricsEndpoint::Collect collect);

// One request (exposed for tests through the endpoint): nullopt is 404.
std::optional<EndpointReply> admin_request(const AdminHooks& hooks, const EndpointRequest& r);

}  // namespace zcnet::cli

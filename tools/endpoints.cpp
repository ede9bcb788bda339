#include "endpoints.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>

#include "commands.hpp"
#include "zcnet/observe/syscall_timing.hpp"

namespace zcnet::cli {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}

void log_change(const AdminHooks& h, std::string_view what, std::string_view now,
                std::string_view was, std::string_view peer) {
  fmt::print(stderr, "zcnet {}: admin: {} {} (was {}), asked by {}\n", h.command, what, now, was,
             peer);
  std::fflush(stderr);
}

}  // namespace

std::optional<EndpointReply> admin_request(const AdminHooks& h, const EndpointRequest& r) {
  const std::shared_ptr<Tracer> tracer = h.tracer ? h.tracer() : nullptr;
  if (r.target == "/config") {
    if (r.method != "GET") return EndpointReply{405, "405: GET /config\n"};
    nlohmann::json j = h.config ? h.config() : nlohmann::json::object();
    j["trace-sample"] = tracer ? nlohmann::json(tracer->sample()) : nlohmann::json();
    j["syscall-timing"] = syscall_timing();
    return EndpointReply{200, j.dump(2) + "\n", "application/json"};
  }
  if (r.target == "/syscall-timing") {
    const std::string_view was = syscall_timing() ? "on" : "off";
    if (r.method == "GET") return EndpointReply{200, fmt::format("{}\n", was)};
    if (r.method != "PUT") return EndpointReply{405, "405: GET or PUT /syscall-timing\n"};
    if (!kObserve)
      return EndpointReply{409,
                           "syscall timing is compiled out of this build (ZCNET_OBSERVE=OFF)\n"};
    const std::string_view want = trimmed(r.body);
    if (want != "on" && want != "off")
      return EndpointReply{
          400, fmt::format("PUT /syscall-timing: want on or off, got '{}'\n", want.substr(0, 64))};
    set_syscall_timing(want == "on");
    log_change(h, "syscall-timing", want, was, r.peer);
    return EndpointReply{200, fmt::format("{}\n", want)};
  }
  if (r.target != "/trace-sample") return std::nullopt;
  if (!tracer) return EndpointReply{409, "tracing is off: start with --trace-file\n"};
  if (r.method == "GET") return EndpointReply{200, tracer->sample() + "\n"};
  if (r.method != "PUT") return EndpointReply{405, "405: GET or PUT /trace-sample\n"};
  const std::string was = tracer->sample();
  if (auto set = tracer->set_sample(trimmed(r.body)); !set)
    return EndpointReply{400, set.error().message() + "\n"};
  const std::string now = tracer->sample();
  log_change(h, "trace-sample", now, was, r.peer);
  return EndpointReply{200, now + "\n"};
}

std::unique_ptr<MetricsEndpoint> start_metrics(const std::string& where, std::string_view command,
                                               MetricsEndpoint::Collect collect) {
  auto [ip, port] = split_listen(where, "--metrics");
  UniqueFd l = check(listen_tcp(ip, port, ListenOptions{}));
  port = check(zcnet::local_port(l.get()));
  auto ep = check(MetricsEndpoint::start(std::move(l), std::move(collect)));
  fmt::print(stderr, "zcnet {}: metrics on port {}\n", command, port);
  return ep;
}

std::unique_ptr<MetricsEndpoint> start_admin(const std::string& where, AdminHooks hooks) {
  const std::string at = where.find(':') == std::string::npos ? "127.0.0.1:" + where : where;
  auto [ip, port] = split_listen(at, "--admin");
  UniqueFd l = check(listen_tcp(ip, port, ListenOptions{}));
  port = check(zcnet::local_port(l.get()));
  const std::string command = hooks.command;
  auto ep = check(MetricsEndpoint::start(
      std::move(l), nullptr,
      [h = std::move(hooks)](const EndpointRequest& r) { return admin_request(h, r); }));
  fmt::print(stderr, "zcnet {}: admin on port {}\n", command, port);
  return ep;
}

}  // namespace zcnet::cli

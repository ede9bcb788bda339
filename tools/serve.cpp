// `zcnet serve`: the static HTTP file server, one loop per worker thread, each accepting on its
// own SO_REUSEPORT listener. SIGINT/SIGTERM drain gracefully; a second signal stops at once.
#include <fcntl.h>
#include <fmt/format.h>

#include <thread>

#include "commands.hpp"
#include "stop_signals.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/loop_group.hpp"

namespace zcnet::cli {

namespace {

struct ServeArgs {
  std::string root;
  std::string listen;
  std::size_t workers = 0;
  std::string backend;
  std::string strategy = "auto";
  std::size_t max_connections = 10000;
  double header_timeout = 10;
  double keepalive_timeout = 75;
  double send_timeout = 60;
  double grace = 10;
  std::string access_log;
};

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

// "ADDR:PORT" -> an IP literal for listen_tcp ("*" or empty: every IPv4 address).
std::pair<std::string, std::uint16_t> split_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen wants ADDR:PORT");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  int port = std::stoi(s.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::runtime_error("--listen: port out of range");
  return {host, static_cast<std::uint16_t>(port)};
}

http::ServerOptions server_options(const ServeArgs& a, int log_fd) {
  http::ServerOptions o;
  o.root = a.root;
  auto strategy = parse_strategy(a.strategy);
  if (!strategy) throw std::runtime_error(fmt::format("unknown --strategy '{}'", a.strategy));
  o.strategy = *strategy;
  o.max_connections = a.max_connections;
  o.header_timeout = seconds(a.header_timeout);
  o.keepalive_timeout = seconds(a.keepalive_timeout);
  o.send_timeout = seconds(a.send_timeout);
  o.shutdown_grace = seconds(a.grace);
  o.access_log_fd = log_fd;
  return o;
}

void run_serve(const ServeArgs& a) {
  UniqueFd log;
  if (!a.access_log.empty()) {
    log.reset(::open(a.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) fail(last_error("open", a.access_log));
  }
  auto server = check(http::Server::open(server_options(a, log.get())));

  LoopGroupOptions go;
  go.threads = a.workers ? a.workers : std::max(1u, std::thread::hardware_concurrency());
  if (!a.backend.empty()) {
    auto kind = parse_backend(a.backend);
    if (!kind) throw std::runtime_error(fmt::format("unknown --backend '{}'", a.backend));
    go.loop.backend = *kind;
  }
  // One listener per worker on the same port; port 0 becomes the first one's port for the rest.
  auto [ip, port] = split_listen(a.listen);
  ListenOptions lo;
  lo.reuse_port = true;
  std::vector<UniqueFd> listeners;
  for (std::size_t i = 0; i < go.threads; ++i) {
    listeners.push_back(check(listen_tcp(ip, port, lo)));
    if (port == 0) port = check(zcnet::local_port(listeners.back().get()));
  }

  LoopGroup group(go);
  StopSignals signals;  // before the loops start: their threads inherit the blocked mask
  auto started = group.start([&](Loop& loop, std::size_t i) -> Task<void> {
    return server->run(loop, std::move(listeners[i]));
  });
  if (!started) fail(started.error());
  signals.listen(
      [&group] {
        fmt::print(stderr, "zcnet serve: shutting down (a second signal stops at once)\n");
        group.request_shutdown();
      },
      [&group] { group.stop(); });
  fmt::print(stderr, "zcnet serve: listening on port {}\n", port);
  std::fflush(stderr);

  group.join();
}

}  // namespace

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "serve a directory over HTTP/1.1 (GET, HEAD, ranges)");
  cmd->add_option("--root", a->root, "directory to serve")->required();
  cmd->add_option("--listen", a->listen, "ADDR:PORT to listen on (port 0: any)")->required();
  cmd->add_option("--workers", a->workers, "loop threads (default: one per core)");
  add_backend_option(cmd, a->backend);
  cmd->add_option("--strategy", a->strategy,
                  "force a strategy for file bodies (auto: the selector decides)");
  cmd->add_option("--max-connections", a->max_connections,
                  "open connections over all workers; beyond it: 503 and close");
  cmd->add_option("--header-timeout", a->header_timeout,
                  "seconds a request's header may take to arrive (slowloris)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--keepalive-timeout", a->keepalive_timeout,
                  "seconds an idle keep-alive connection is kept")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--send-timeout", a->send_timeout,
                  "seconds a response may go without the client accepting a byte")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--grace", a->grace,
                  "seconds responses in flight may run on after SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--access-log", a->access_log, "append one line per request to this file");
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace zcnet::cli

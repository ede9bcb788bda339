// `zcnet serve`: the static HTTP file server, one loop per worker thread, each accepting on its
// own SO_REUSEPORT listener. SIGINT/SIGTERM drain gracefully; a second signal stops at once.
// SIGHUP reloads: the config file is read again, the access log reopened, and connections
// accepted from then on get the new options while those open finish under the old ones.
#include <fcntl.h>
#include <fmt/format.h>

#include <thread>

#include "commands.hpp"
#include "serve_config.hpp"
#include "stop_signals.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/loop/loop_group.hpp"
#include "zcnet/observe/metrics_endpoint.hpp"

namespace zcnet::cli {

namespace {

// The Server's options from `a`, with the access log opened (the Site keeps its own dup).
Result<http::ServerOptions> open_options(const ServeArgs& a, UniqueFd& log) {
  if (!a.access_log.empty()) {
    log.reset(::open(a.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) return last_error("open access log", a.access_log);
  }
  return server_options(a, log.get());
}

// SIGHUP: everything but what the running process is built around (listeners, workers, backend,
// metrics address), which a restart changes. Runs on the signal waiter thread.
void reload(const ServeCommandLine& line, const ServeArgs& started, http::Server& server) {
  try {
    ServeArgs a = effective_serve_args(line);
    if (a.listen != started.listen || a.workers != started.workers ||
        a.backend != started.backend || a.metrics != started.metrics)
      fmt::print(stderr,
                 "zcnet serve: reload: listen, workers, backend and metrics keep their values "
                 "until a restart\n");
    UniqueFd log;
    auto options = open_options(a, log);
    if (!options) throw std::runtime_error(options.error().message());
    auto r = server.reload(std::move(*options));
    if (!r) throw std::runtime_error(r.error().message());
    fmt::print(stderr, "zcnet serve: reloaded (generation {}): root {}\n", server.generation(),
               a.root);
  } catch (const std::exception& e) {
    fmt::print(stderr, "zcnet serve: reload failed, keeping the running configuration: {}\n",
               e.what());
  }
  std::fflush(stderr);
}

void run_serve(const ServeCommandLine& line) {
  // Before any thread starts (metrics endpoint, loops): they inherit the blocked mask, so the
  // signals reach only the waiter.
  StopSignals signals(true);
  const ServeArgs a = effective_serve_args(line);
  std::unique_ptr<http::Server> server;
  {
    UniqueFd log;
    server = check(http::Server::open(check(open_options(a, log))));
  }

  LoopGroupOptions go;
  go.threads = a.workers ? a.workers : std::max(1u, std::thread::hardware_concurrency());
  go.loop.backend = backend_option_kind(a.backend);
  // One listener per worker on the same port; port 0 becomes the first one's port for the rest.
  auto [ip, port] = split_listen(a.listen, "--listen");
  ListenOptions lo;
  lo.reuse_port = true;
  std::vector<UniqueFd> listeners;
  for (std::size_t i = 0; i < go.threads; ++i) {
    listeners.push_back(check(listen_tcp(ip, port, lo)));
    if (port == 0) port = check(zcnet::local_port(listeners.back().get()));
  }
  std::unique_ptr<MetricsEndpoint> metrics;
  if (!a.metrics.empty()) {
    auto [mip, mport] = split_listen(a.metrics, "--metrics");
    UniqueFd ml = check(listen_tcp(mip, mport, ListenOptions{}));
    mport = check(zcnet::local_port(ml.get()));
    metrics = check(MetricsEndpoint::start(
        std::move(ml), [s = server.get()](std::string& out) { s->write_metrics(out); }));
    fmt::print(stderr, "zcnet serve: metrics on port {}\n", mport);
  }

  LoopGroup group(go);
  auto started = group.start([&](Loop& loop, std::size_t i) -> Task<void> {
    return server->run(loop, std::move(listeners[i]));
  });
  if (!started) fail(started.error());
  signals.listen(
      [&group] {
        fmt::print(stderr, "zcnet serve: shutting down (a second signal stops at once)\n");
        group.request_shutdown();
      },
      [&group] { group.stop(); }, [&] { reload(line, a, *server); });
  fmt::print(stderr, "zcnet serve: listening on port {}\n", port);
  std::fflush(stderr);

  group.join();
  signals.close();  // the reload callback uses the server: no reload from here on
}

}  // namespace

void add_serve(CLI::App& app) {
  auto line = std::make_shared<ServeCommandLine>();
  auto* cmd = app.add_subcommand("serve", "serve a directory over HTTP/1.1 (GET, HEAD, ranges)");
  add_serve_options(cmd, *line);
  cmd->callback([line, cmd] {
    note_given_options(cmd, *line);
    run_serve(*line);
  });
}

}  // namespace zcnet::cli

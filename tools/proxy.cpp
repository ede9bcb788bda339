// `zcnet proxy`: the TCP gateway, one loop per worker thread, each accepting on its own
// SO_REUSEPORT listener for every configured address. SIGINT/SIGTERM drain gracefully (open
// connections get the grace period); a second signal stops at once. SIGHUP reloads: the config
// file is read again, the access log reopened, and connections accepted from then on use the new
// upstreams, balancing, health checks, mirror and timeouts while open ones keep theirs.
#include "zcnet/proxy/proxy.hpp"

#include <fcntl.h>
#include <fmt/format.h>

#include "commands.hpp"
#include "endpoints.hpp"
#include "proxy_config.hpp"
#include "stop_signals.hpp"
#include "zcnet/loop/loop_group.hpp"
#include "zcnet/observe/metrics_endpoint.hpp"

namespace zcnet::cli {

namespace {

// The proxy's options with the access log opened (the Config keeps its own dup) and `tracer`
// attached.
proxy::ProxyOptions open_options(ProxySetup s, UniqueFd& log, std::shared_ptr<Tracer> tracer) {
  if (!s.access_log.empty()) {
    log.reset(::open(s.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) fail(last_error("open access log", s.access_log));
  }
  s.options.access_log_fd = log.get();
  s.options.tracer = std::move(tracer);
  return std::move(s.options);
}

void reload(const ProxyCommandLine& line, const ProxySetup& started, proxy::Proxy& p,
            const std::shared_ptr<Tracer>& tracer) {
  try {
    ProxySetup s = effective_proxy_setup(line);
    if (s.workers != started.workers || s.backend != started.backend ||
        s.metrics != started.metrics || s.admin != started.admin ||
        s.trace_file != started.trace_file || s.trace_sample != started.trace_sample)
      fmt::print(stderr,
                 "zcnet proxy: reload: workers, backend, metrics, admin, trace-file and "
                 "trace-sample keep their values until a restart\n");
    UniqueFd log;
    auto r = p.reload(open_options(std::move(s), log, tracer));
    if (!r) fail(r.error());
    fmt::print(stderr, "zcnet proxy: reloaded (generation {})\n", p.generation());
  } catch (const std::exception& e) {
    fmt::print(stderr, "zcnet proxy: reload failed, keeping the running configuration: {}\n",
               e.what());
  }
  std::fflush(stderr);
}

void run_proxy(const ProxyCommandLine& line) {
  StopSignals signals(true);  // before any thread starts: they inherit the blocked mask
  const ProxySetup setup = effective_proxy_setup(line);
  LoopGroupOptions go;
  go.threads = setup.workers;
  go.loop.backend = setup.backend.empty() ? proxy::Proxy::preferred_backend()
                                          : backend_option_kind(setup.backend);
  if (setup.options.path == proxy::DataPath::UringSplice) {
    if (setup.backend.empty()) go.loop.backend = BackendKind::Uring;
    const BackendKind k = go.loop.backend == BackendKind::Auto ? auto_backend() : go.loop.backend;
    if (k != BackendKind::Uring)
      fail(Error(EINVAL, "--path uring-splice", "needs the uring backend (--backend uring)"));
    if (!uring_backend_available())
      fail(Error(ENOSYS, "--path uring-splice", "io_uring is not available here"));
  }
  std::shared_ptr<Tracer> tracer;
  if (!setup.trace_file.empty())
    tracer = check(Tracer::open({.file = setup.trace_file, .sample = setup.trace_sample}));
  std::unique_ptr<proxy::Proxy> p;
  {
    UniqueFd log;
    p = check(proxy::Proxy::open(open_options(setup, log, tracer)));
  }

  // Per worker, one listener for each configured address; port 0 becomes the first one's port.
  ListenOptions lo;
  lo.reuse_port = true;
  std::vector<std::vector<UniqueFd>> listeners(go.threads);
  std::vector<std::uint16_t> ports;
  for (const auto& l : setup.options.listeners) {
    auto [ip, port] = split_listen(l.listen, "--listen");
    for (std::size_t i = 0; i < go.threads; ++i) {
      lo.sole_owner = i == 0;  // no other proxy's listener on this port
      listeners[i].push_back(check(listen_tcp(ip, port, lo)));
      if (port == 0) port = check(zcnet::local_port(listeners[i].back().get()));
    }
    ports.push_back(port);
  }
  std::unique_ptr<MetricsEndpoint> admin;
  if (!setup.admin.empty())
    admin = start_admin(setup.admin, {.command = "proxy",
                                      .config = [&setup] { return proxy_setup_json(setup); },
                                      .tracer = [tracer] { return tracer; }});
  std::unique_ptr<MetricsEndpoint> metrics;
  if (!setup.metrics.empty())
    metrics = start_metrics(setup.metrics, "proxy",
                            [px = p.get()](std::string& out) { px->write_metrics(out); });

  LoopGroup group(go);
  auto started = group.start([&](Loop& loop, std::size_t i) -> Task<void> {
    return p->run(loop, std::move(listeners[i]), i == 0);
  });
  if (!started) fail(started.error());
  signals.listen(
      [&group] {
        fmt::print(stderr, "zcnet proxy: shutting down (a second signal stops at once)\n");
        group.request_shutdown();
      },
      [&group] { group.stop(); }, [&] { reload(line, setup, *p, tracer); });
  for (std::size_t i = 0; i < ports.size(); ++i)
    fmt::print(stderr, "zcnet proxy: listening on port {} ({} upstream(s))\n", ports[i],
               setup.options.listeners[i].upstreams.size());
  std::fflush(stderr);

  group.join();
  signals.close();  // the reload callback uses the proxy: no reload from here on
}

}  // namespace

void add_proxy(CLI::App& app) {
  auto line = std::make_shared<ProxyCommandLine>();
  auto* cmd = app.add_subcommand(
      "proxy", "relay TCP connections to upstreams (splice, balancing, health checks, mirroring)");
  add_proxy_options(cmd, *line);
  cmd->callback([line, cmd] {
    note_given_proxy_options(cmd, *line);
    run_proxy(*line);
  });
}

}  // namespace zcnet::cli

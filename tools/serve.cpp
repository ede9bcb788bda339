// `zcnet serve`: the static HTTP file server, one loop per worker thread, each accepting on its
// own SO_REUSEPORT listener. SIGINT/SIGTERM drain gracefully; a second signal stops at once.
// SIGHUP reloads: the config file is read again, the access log reopened, and connections
// accepted from then on get the new options while those open finish under the old ones.
// With --processes N, a master process opens every listener, forks N worker processes (each
// runs the above on its share of the listeners, with its own open-file limit), passes signals
// on to them and restarts one that dies, as nginx's master does.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "endpoints.hpp"
#include "serve_config.hpp"
#include "stop_signals.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/loop/loop_group.hpp"
#include "zcnet/observe/metrics_endpoint.hpp"

namespace zcnet::cli {

namespace {

// The Server's options from `a`, with the access log opened (the Site keeps its own dup) and
// `tracer` attached.
Result<http::ServerOptions> open_options(const ServeArgs& a, UniqueFd& log,
                                         std::shared_ptr<Tracer> tracer) {
  if (!a.access_log.empty()) {
    log.reset(::open(a.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) return last_error("open access log", a.access_log);
  }
  http::ServerOptions o = server_options(a, log.get());
  o.tracer = std::move(tracer);
  return o;
}

// SIGHUP: everything but what the running process is built around (listeners, workers, backend,
// metrics address), which a restart changes. Runs on the signal waiter thread.
void reload(const ServeCommandLine& line, const ServeArgs& started, http::Server& server) {
  try {
    ServeArgs a = effective_serve_args(line);
    if (a.listen != started.listen || a.workers != started.workers ||
        a.processes != started.processes || a.backend != started.backend ||
        a.metrics != started.metrics || a.trace_file != started.trace_file ||
        a.trace_sample != started.trace_sample)
      fmt::print(stderr,
                 "zcnet serve: reload: listen, workers, processes, backend, metrics, trace-file "
                 "and trace-sample keep their values until a restart\n");
    UniqueFd log;
    auto options = open_options(a, log, server.site()->options().tracer);
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

// One process's server: its loops on `listeners` (one per worker thread), until a stop signal.
void run_process(const ServeCommandLine& line, const ServeArgs& a, StopSignals& signals,
                 std::vector<UniqueFd> listeners, std::uint16_t port, bool announce) {
  std::unique_ptr<http::Server> server;
  {
    std::shared_ptr<Tracer> tracer;  // opened here: after a fork, its thread is this process's
    if (!a.trace_file.empty())
      tracer = check(Tracer::open({.file = a.trace_file, .sample = a.trace_sample}));
    UniqueFd log;
    server = check(http::Server::open(check(open_options(a, log, std::move(tracer)))));
  }
  LoopGroupOptions go;
  go.threads = listeners.size();
  go.loop.backend = backend_option_kind(a.backend);
  std::unique_ptr<MetricsEndpoint> admin;
  if (!a.admin.empty()) {
    const http::Server* s = server.get();
    admin = start_admin(a.admin, {.command = "serve",
                                  .config =
                                      [&a, s] {
                                        nlohmann::json j = serve_args_json(a);
                                        j["generation"] = s->generation();
                                        return j;
                                      },
                                  .tracer = [s] { return s->site()->options().tracer; }});
  }
  std::unique_ptr<MetricsEndpoint> metrics;
  if (!a.metrics.empty())
    metrics = start_metrics(a.metrics, "serve",
                            [s = server.get()](std::string& out) { s->write_metrics(out); });

  LoopGroup group(go);
  auto started = group.start([&](Loop& loop, std::size_t i) -> Task<void> {
    return server->run(loop, std::move(listeners[i]));
  });
  if (!started) fail(started.error());
  signals.listen(
      [&group, announce] {
        if (announce)
          fmt::print(stderr, "zcnet serve: shutting down (a second signal stops at once)\n");
        group.request_shutdown();
      },
      [&group] { group.stop(); }, [&] { reload(line, a, *server); });
  if (announce) fmt::print(stderr, "zcnet serve: listening on port {}\n", port);
  std::fflush(stderr);

  group.join();
  signals.close();  // the reload callback uses the server: no reload from here on
}

// The master of --processes N: forks the workers, passes SIGINT/SIGTERM/SIGHUP on, restarts a
// worker that dies (not more than once a second each), and returns once all have exited after
// a stop signal: the worst exit status among them. Stays single-threaded, so forking again later
// is safe.
int run_master(const ServeCommandLine& line, const ServeArgs& a, StopSignals& signals,
               std::vector<UniqueFd>& listeners, std::uint16_t port) {
  const std::size_t n = a.processes;
  const std::size_t per = listeners.size() / n;
  struct Child {
    pid_t pid = -1;
    std::chrono::steady_clock::time_point started;
  };
  std::vector<Child> kids(n);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);  // SIGCHLD too, taken by sigwaitinfo below
  const pid_t master = ::getpid();
  auto spawn = [&](std::size_t i) {
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      fmt::print(stderr, "zcnet serve: fork: {}\n", std::strerror(errno));
      return;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the master
      if (::getppid() != master) ::_exit(1);
      // Its own process group: a terminal's Ctrl-C reaches only the master, which passes it on
      // once (a worker that got it twice would stop at once instead of draining).
      ::setpgid(0, 0);
      sigset_t chld;
      sigemptyset(&chld);
      sigaddset(&chld, SIGCHLD);
      ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
      int code = 0;
      try {
        std::vector<UniqueFd> mine;
        for (std::size_t k = 0; k < listeners.size(); ++k) {
          if (k / per == i)
            mine.push_back(std::move(listeners[k]));
          else
            listeners[k].reset();
        }
        run_process(line, a, signals, std::move(mine), port, false);
      } catch (const std::exception& e) {
        fmt::print(stderr, "zcnet serve: worker process {}: {}\n", i, e.what());
        code = 1;
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    kids[i] = {pid, std::chrono::steady_clock::now()};
  };
  for (std::size_t i = 0; i < n; ++i) spawn(i);
  fmt::print(stderr, "zcnet serve: listening on port {} ({} worker processes)\n", port, n);
  std::fflush(stderr);

  int stops = 0;
  int worst = 0;
  auto live = [&] {
    return std::any_of(kids.begin(), kids.end(), [](const Child& c) { return c.pid > 0; });
  };
  while (live()) {
    siginfo_t info{};
    const int sig = ::sigwaitinfo(&set, &info);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      if (sig != SIGHUP && stops++ == 0)
        fmt::print(stderr, "zcnet serve: shutting down (a second signal stops at once)\n");
      for (const Child& c : kids)
        if (c.pid > 0) ::kill(c.pid, sig);
      continue;
    }
    for (;;) {  // SIGCHLD: reap every worker that ended
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      auto it =
          std::find_if(kids.begin(), kids.end(), [&](const Child& c) { return c.pid == pid; });
      if (it == kids.end()) continue;
      it->pid = -1;
      if (stops > 0) {  // shutting down: how it ended is the master's exit status
        worst = std::max(worst, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        continue;
      }
      const auto i = static_cast<std::size_t>(it - kids.begin());
      fmt::print(stderr, "zcnet serve: worker process {} (pid {}) ended ({} {}); restarting it\n",
                 i, pid, WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
      if (std::chrono::steady_clock::now() - it->started < std::chrono::seconds(1))
        ::sleep(1);  // a worker that dies at start is not restarted in a tight loop
      spawn(i);
    }
  }
  signals.close();
  return stops > 0 ? worst : 1;  // no stop signal: every worker ended and none could be forked
}

void run_serve(const ServeCommandLine& line) {
  // Before any thread starts (metrics endpoint, loops) or any worker process is forked: they
  // inherit the blocked mask, so the signals reach only the waiter (or the master).
  StopSignals signals(true);
  const ServeArgs a = effective_serve_args(line);
  const std::size_t threads =
      a.workers ? a.workers : std::max(1u, std::thread::hardware_concurrency());
  // One listener per worker thread of every process on the same port; port 0 becomes the first
  // one's port for the rest.
  auto [ip, port] = split_listen(a.listen, "--listen");
  ListenOptions lo;
  lo.reuse_port = true;
  std::vector<UniqueFd> listeners;
  for (std::size_t i = 0; i < threads * a.processes; ++i) {
    lo.sole_owner = i == 0;  // no other server's listener on this port
    listeners.push_back(check(listen_tcp(ip, port, lo)));
    if (port == 0) port = check(zcnet::local_port(listeners.back().get()));
  }
  if (a.processes == 1) {
    run_process(line, a, signals, std::move(listeners), port, true);
    return;
  }
  if (const int code = run_master(line, a, signals, listeners, port); code != 0)
    throw std::runtime_error(fmt::format("a worker process ended with status {}", code));
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

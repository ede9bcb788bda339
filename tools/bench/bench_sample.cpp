// One timed run of one bench cell: the server on its loop thread, `zcnet load` as a child.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "bench/bench.hpp"
#include "bench/bench_server.hpp"
#include "bench/load.hpp"
#include "report.hpp"
#include "sysctl.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/version.hpp"

extern char** environ;

namespace zcnet::cli {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

struct ChildOutput {
  std::string out, err;
  int status = 0;
  rusage usage{};
  bool timed_out = false;
};

// Runs argv with stdout and stderr captured; SIGKILL after `limit` seconds. wait4 gives the
// child's own resource use, which is the load generator's cost.
ChildOutput run_child(const std::vector<std::string>& args, double limit) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(last_error("pipe2").message());
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]), err_r(err_pipe[0]), err_w(err_pipe[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error(Error(rc, "posix_spawn", "/proc/self/exe load").message());
  out_w.reset();
  err_w.reset();

  ChildOutput c;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
  pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      c.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? c.out : c.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  while (::wait4(pid, &c.status, 0, &c.usage) < 0 && errno == EINTR) {
  }
  return c;
}

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.empty() ? s : line;
}

}  // namespace

int PayloadFiles::fd_for(std::uint64_t size) {
  if (auto it = files_.find(size); it != files_.end()) return it->second.get();
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/zcnet-bench-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) throw std::runtime_error(last_error("mkstemp", path).message());
  ::unlink(path.c_str());
  std::vector<std::byte> chunk(std::min<std::uint64_t>(size, 1 << 20));
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = std::byte((i * 131 + 7) & 0xff);
  for (std::uint64_t off = 0; off < size;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - off));
    const ssize_t w = ::pwrite(fd.get(), chunk.data(), n, static_cast<off_t>(off));
    if (w <= 0) throw std::runtime_error(last_error("pwrite", path).message());
    off += static_cast<std::uint64_t>(w);
  }
  const int raw = fd.get();
  files_.emplace(size, std::move(fd));
  return raw;
}

nlohmann::json run_sample(const CellSpec& cell, const SampleLimits& limits, PayloadFiles& files) {
  nlohmann::json s{{"strategy", to_string(cell.strategy)},
                   {"size", cell.size},
                   {"concurrency", cell.concurrency},
                   {"backend", to_string(cell.backend)}};
  BenchServerConfig cfg{cell.backend, cell.strategy, files.fd_for(cell.size), cell.size,
                        4 * static_cast<std::size_t>(cell.concurrency) + 64};
  auto server = BenchServer::start(cfg);
  if (!server) {
    s["error"] = "server: " + server.error().message();
    return s;
  }
  const Usage self0 = Usage::now();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> args{
      "zcnet",         "load",
      "--connect",     fmt::format("127.0.0.1:{}", (*server)->port()),
      "--connections", std::to_string(cell.concurrency),
      "--size",        std::to_string(cell.size),
      "--duration",    fmt::format("{}", limits.duration),
      "--grace",       fmt::format("{}", limits.grace),
      "--backend",     limits.client_backend,
      "--json"};
  ChildOutput child = run_child(args, limits.duration + limits.grace + 20);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ServerTotals srv = (*server)->stop();
  const Usage server_used = Usage::now().since(self0);

  nlohmann::json load = nlohmann::json::parse(first_line(child.out), nullptr, false);
  if (child.timed_out) {
    s["error"] = fmt::format("load generator killed after {:.0f} s", wall);
  } else if (load.is_discarded() || !load.is_object()) {
    s["error"] = "load generator: " + first_line(child.err.empty() ? child.out : child.err);
    return s;
  } else if (load.value("errors", std::uint64_t{0}) > 0 || !WIFEXITED(child.status) ||
             WEXITSTATUS(child.status) != 0) {
    s["error"] = "load generator: " + load.value("error", first_line(child.err));
  }
  if (srv.errors > 0) {
    s["server_errors"] = srv.errors;
    s["server_error"] = srv.first_error;
    if (!s.contains("error")) s["error"] = "server: " + srv.first_error;
  }

  // Per-GiB figures use the bytes the server's engine moved (cut transfers included), which is
  // what both sides paid for.
  const double server_gib = static_cast<double>(srv.stats.bytes) / kGiB;
  auto per_gib = [&](double v) { return server_gib > 0 ? v / server_gib : 0.0; };
  const double client_elapsed = load.value("elapsed_s", 0.0);
  // One side's CPU and context switches over the run: "server" (this process) or "client".
  auto put_side = [&](const std::string& side, const Usage& u) {
    const double cpu = u.user + u.sys;
    const double vcs = static_cast<double>(u.voluntary_switches);
    const double ivcs = static_cast<double>(u.involuntary_switches);
    s[side + "_cpu_user_s"] = u.user;
    s[side + "_cpu_sys_s"] = u.sys;
    s[side + "_cpu_s_per_gib"] = per_gib(cpu);
    s[side + "_cpu_utilisation"] = wall > 0 ? cpu / wall : 0.0;
    s[side + "_voluntary_ctx"] = vcs;
    s[side + "_involuntary_ctx"] = ivcs;
    s[side + "_ctx_per_gib"] = per_gib(vcs + ivcs);
  };
  const double transfers = static_cast<double>(srv.transfers);

  s["transfers"] = load.value("transfers", std::uint64_t{0});
  s["bytes"] = load.value("bytes", std::uint64_t{0});
  s["elapsed_s"] = client_elapsed;
  s["wall_s"] = wall;
  s["throughput_bytes_per_s"] = load.value("throughput_bytes_per_s", 0.0);
  s["transfers_per_s"] = load.value("transfers_per_s", 0.0);
  const nlohmann::json lat = load.value("latency_ns", nlohmann::json::object());
  s["latency_p50_ns"] = lat.value("p50", std::uint64_t{0});
  s["latency_p99_ns"] = lat.value("p99", std::uint64_t{0});
  s["latency_p999_ns"] = lat.value("p999", std::uint64_t{0});
  s["latency_max_ns"] = lat.value("max", std::uint64_t{0});
  s["cut"] = load.value("cut", std::uint64_t{0});

  s["server_bytes"] = srv.stats.bytes;
  s["server_transfers"] = srv.transfers;
  s["server_cut"] = srv.cut;
  put_side("server", server_used);
  s["server_loop_thread"] = {{"cpu_user_s", srv.thread_user_s},
                             {"cpu_sys_s", srv.thread_sys_s},
                             {"voluntary_ctx", srv.thread_voluntary_ctx},
                             {"involuntary_ctx", srv.thread_involuntary_ctx}};
  put_side("client", Usage::of(child.usage));

  s["syscalls_per_transfer"] = transfers > 0 ? srv.stats.syscalls / transfers : 0.0;
  s["loop_syscalls_per_transfer"] = transfers > 0 ? srv.loop.syscalls / transfers : 0.0;
  s["bytes_copied_user"] = srv.stats.bytes_copied_user;
  s["bytes_not_copied"] = srv.stats.bytes - std::min(srv.stats.bytes, srv.stats.bytes_copied_user);
  s["zc_completions"] = srv.stats.zc_completions;
  s["zc_copied"] = srv.stats.zc_copied;
  s["fallbacks"] = srv.stats.fallbacks;
  nlohmann::json ran = nlohmann::json::object();
  for (std::size_t k = 0; k < srv.ran.size(); ++k)
    if (srv.ran[k] > 0) ran[std::string(to_string(static_cast<StrategyKind>(k)))] = srv.ran[k];
  s["strategy_ran"] = ran;
  nlohmann::json perf = nlohmann::json::object();
  for (const PerfReading& r : srv.perf) {
    if (r.value) {
      perf[r.name] = *r.value;
      if (r.name != "task_clock_ns") s["perf_" + r.name + "_per_gib"] = per_gib(double(*r.value));
    } else {
      perf[r.name] = r.unavailable;
    }
  }
  s["server_perf"] = perf;
  s["socket_options"] = srv.socket_options;
  s["server_backend"] = srv.backend;
  s["client_backend"] = load.value("backend", limits.client_backend);
  return s;
}

std::optional<Spread> spread_of(const nlohmann::json& samples, const std::string& key) {
  std::vector<double> v;
  for (const auto& s : samples) {
    if (s.contains("error")) continue;
    auto it = s.find(key);
    if (it != s.end() && it->is_number()) v.push_back(it->get<double>());
  }
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return Spread{median, v.front(), v.back(), n};
}

nlohmann::json describe_machine() {
  utsname u{};
  ::uname(&u);
  std::string cpu_model;
  {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("model name", 0) == 0) {
        cpu_model = line.substr(line.find(':') + 2);
        break;
      }
  }
  std::uint64_t mem_kb = 0;
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    in >> key >> mem_kb;
  }
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const Capabilities& caps = Capabilities::probe();
  ThreadPerfCounters perf;
  nlohmann::json perf_avail = nlohmann::json::object();
  for (const auto& r : perf.read()) perf_avail[r.name] = r.value ? "available" : r.unavailable;
  return {
      {"kernel", fmt::format("{} {} {}", u.sysname, u.release, u.machine)},
      {"hostname", u.nodename},
      {"cpu_model", cpu_model},
      {"cores", std::thread::hardware_concurrency()},
      {"memory_bytes", mem_kb * 1024},
      {"zcnet_version", ZCNET_VERSION},
      {"nofile_limit", {{"soft", nofile.rlim_cur}, {"hard", nofile.rlim_max}}},
      {"uring_backend_available", uring_backend_available()},
      {"capabilities",
       {{"sendfile", caps.sendfile}, {"splice", caps.splice}, {"msg_zerocopy", caps.msg_zerocopy}}},
      {"sysctl",
       // Named as `zcnet doctor` names them.
       {{"wmem_max", sysctl_json("net.core.wmem_max")},
        {"rmem_max", sysctl_json("net.core.rmem_max")},
        {"optmem_max", sysctl_json("net.core.optmem_max")},
        {"tcp_wmem", sysctl_json("net.ipv4.tcp_wmem")},
        {"tcp_rmem", sysctl_json("net.ipv4.tcp_rmem")},
        {"tcp_mem_pages", sysctl_json("net.ipv4.tcp_mem")},
        {"tcp_notsent_lowat", sysctl_json("net.ipv4.tcp_notsent_lowat")},
        {"perf_event_paranoid", sysctl_json("kernel.perf_event_paranoid")}}},
      {"perf_counters", perf_avail}};
}

void draw_progress(std::size_t done, std::size_t total, const std::string& what) {
  if (!::isatty(STDOUT_FILENO) || total == 0) return;
  constexpr std::size_t kWidth = 30;
  const std::size_t filled = done * kWidth / total;
  fmt::print("\r[{}{}] {}/{} {:<48}", std::string(filled, '#'), std::string(kWidth - filled, '.'),
             done, total, what.substr(0, 48));
  if (done == total) fmt::print("\r{:<100}\r", "");
  std::fflush(stdout);
}

}  // namespace zcnet::cli

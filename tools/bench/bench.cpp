// `zcnet bench`: a server (loop thread in this process) and `zcnet load` (child process) over
// loopback, sweeping one variable at a time around a center cell (docs/bench.md, "The sweep"):
//   strategy axis:    every --strategies entry at the center size, concurrency and backend;
//   size axis:        --axis-strategies at every --sizes entry (center concurrency, backend);
//   concurrency axis: --axis-strategies at every --concurrency entry (center size, backend);
//   backend axis:     --axis-strategies on every --backends entry (center size, concurrency).
// Each cell runs --runs times, the runs of all cells interleaved (A B A B), and reports the
// median with min-max, and ratios to the --baseline strategy at the same point.
#include "bench/bench.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "bench/load.hpp"
#include "zcnet/version.hpp"

namespace zcnet::cli {

namespace {

struct BenchArgs {
  std::string strategies =
      "read-write,mmap,sendfile,splice,msg-zerocopy,uring-send,uring-send-zc,auto";
  std::string axis_strategies = "read-write,auto";
  std::string sizes = "4K,64K,1M,16M";
  std::string concurrency = "1,100,500,1000";
  std::string backends = kDefaultBenchBackends;
  std::string center_size = "1M";
  unsigned center_concurrency = 100;
  std::string baseline = "read-write";
  unsigned runs = 3;
  double duration = 0.5, grace = 5, max_seconds = 600;
  std::string client_backend = kDefaultLoadBackend;
  std::string json_path = "zcnet-bench.json", html_path = "zcnet-bench.html";
  bool calibrate = false;
  std::string profile;
};

// Keys reported as median [min-max] per cell, and those also given as ratios to the baseline.
const std::vector<std::string> kMetrics = {"throughput_bytes_per_s",
                                           "transfers_per_s",
                                           "latency_p50_ns",
                                           "latency_p99_ns",
                                           "latency_p999_ns",
                                           "server_cpu_s_per_gib",
                                           "server_cpu_utilisation",
                                           "server_ctx_per_gib",
                                           "client_cpu_s_per_gib",
                                           "client_cpu_utilisation",
                                           "client_ctx_per_gib",
                                           "syscalls_per_transfer",
                                           "loop_syscalls_per_transfer",
                                           "bytes_copied_user",
                                           "bytes_not_copied",
                                           "zc_completions",
                                           "zc_copied",
                                           "perf_page_faults_per_gib",
                                           "perf_context_switches_per_gib",
                                           "perf_llc_misses_per_gib",
                                           "cut"};
const std::vector<std::string> kRatioMetrics = {
    "throughput_bytes_per_s", "transfers_per_s",      "server_cpu_s_per_gib",
    "server_ctx_per_gib",     "client_cpu_s_per_gib", "client_ctx_per_gib",
    "latency_p50_ns",         "latency_p99_ns",       "syscalls_per_transfer"};

template <class T, class F>
std::vector<T> parse_list(const std::string& text, const char* what, F parse) {
  std::vector<T> out;
  for (const auto& item : split_list(text)) out.push_back(parse(item));
  if (out.empty()) throw std::runtime_error(fmt::format("{} is empty", what));
  return out;
}

// The cells of the sweep, each once, in the order they are run within a round.
std::vector<CellSpec> plan(const BenchArgs& a) {
  const auto strategies = parse_list<StrategyKind>(a.strategies, "--strategies", strategy_named);
  auto axis =
      a.axis_strategies == "all"
          ? strategies
          : parse_list<StrategyKind>(a.axis_strategies, "--axis-strategies", strategy_named);
  const auto sizes = parse_list<std::uint64_t>(a.sizes, "--sizes", parse_size);
  const auto concs = parse_list<unsigned>(a.concurrency, "--concurrency", [](const std::string& s) {
    const unsigned long v = std::stoul(s);
    if (v == 0 || v > 100000) throw std::runtime_error("--concurrency: 1..100000");
    return static_cast<unsigned>(v);
  });
  const auto backends = parse_list<BackendKind>(
      a.backends, "--backends", [](const std::string& s) { return backend_named(s, false); });
  // The center: the named size / concurrency if listed, else the first listed; the first backend.
  const std::uint64_t want_size = parse_size(a.center_size);
  const std::uint64_t c_size =
      std::find(sizes.begin(), sizes.end(), want_size) != sizes.end() ? want_size : sizes.front();
  const unsigned c_conc = std::find(concs.begin(), concs.end(), a.center_concurrency) != concs.end()
                              ? a.center_concurrency
                              : concs.front();
  const BackendKind c_backend = backends.front();
  // Axis strategies only if they were selected at all (the baseline always is, for ratios).
  std::vector<StrategyKind> on_axes;
  const StrategyKind base = strategy_named(a.baseline);
  for (StrategyKind k : axis)
    if (std::find(strategies.begin(), strategies.end(), k) != strategies.end() || k == base)
      on_axes.push_back(k);

  std::vector<CellSpec> cells;
  auto add = [&](StrategyKind k, std::uint64_t size, unsigned conc, BackendKind b,
                 const char* axis_name) {
    for (CellSpec& c : cells)
      if (c.strategy == k && c.size == size && c.concurrency == conc && c.backend == b) {
        if (std::find(c.axes.begin(), c.axes.end(), axis_name) == c.axes.end())
          c.axes.push_back(axis_name);
        return;
      }
    cells.push_back({k, size, conc, b, {axis_name}});
  };
  // The baseline at every point, so every cell has a ratio.
  std::vector<StrategyKind> at_center = strategies;
  if (std::find(at_center.begin(), at_center.end(), base) == at_center.end())
    at_center.insert(at_center.begin(), base);
  for (StrategyKind k : at_center) add(k, c_size, c_conc, c_backend, "strategy");
  for (std::uint64_t size : sizes)
    for (StrategyKind k : on_axes) add(k, size, c_conc, c_backend, "size");
  for (unsigned conc : concs)
    for (StrategyKind k : on_axes) add(k, c_size, conc, c_backend, "concurrency");
  for (BackendKind b : backends)
    for (StrategyKind k : on_axes) add(k, c_size, c_conc, b, "backend");
  return cells;
}

std::string cell_name(const CellSpec& c) {
  return fmt::format("{} {} x{} {}", to_string(c.strategy), format_size(c.size), c.concurrency,
                     to_string(c.backend));
}

nlohmann::json summarise(const CellSpec& c, nlohmann::json samples) {
  nlohmann::json cell{{"strategy", to_string(c.strategy)},
                      {"size", c.size},
                      {"concurrency", c.concurrency},
                      {"backend", to_string(c.backend)},
                      {"axes", c.axes}};
  nlohmann::json median = nlohmann::json::object(), lo = median, hi = median;
  for (const auto& key : kMetrics)
    if (auto s = spread_of(samples, key)) {
      median[key] = s->median;
      lo[key] = s->min;
      hi[key] = s->max;
    }
  cell["median"] = median;
  cell["min"] = lo;
  cell["max"] = hi;
  std::size_t ok = 0;
  nlohmann::json ran = nlohmann::json::object();
  for (const auto& s : samples) {
    if (s.contains("error")) {
      cell["error"] = s["error"];
      continue;
    }
    ++ok;
    for (const auto& [k, v] : s["strategy_ran"].items()) ran[k] = ran.value(k, 0) + v.get<int>();
  }
  cell["ok_samples"] = ok;
  cell["strategy_ran"] = ran;
  cell["samples"] = std::move(samples);
  return cell;
}

void add_ratios(nlohmann::json& cells, const std::vector<CellSpec>& specs, StrategyKind base) {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const nlohmann::json* b = nullptr;
    for (std::size_t j = 0; j < specs.size(); ++j)
      if (specs[j].strategy == base && specs[j].same_point(specs[i])) b = &cells[j];
    nlohmann::json r = nlohmann::json::object();
    if (b)
      for (const auto& key : kRatioMetrics) {
        const auto& m = cells[i]["median"];
        const auto& bm = (*b)["median"];
        if (m.contains(key) && bm.contains(key) && bm[key].get<double>() > 0)
          r[key] = m[key].get<double>() / bm[key].get<double>();
      }
    cells[i]["ratio_to_baseline"] = r;
  }
}

std::string fmt_ratio(const nlohmann::json& cell, const char* key) {
  const auto& r = cell["ratio_to_baseline"];
  return r.contains(key) ? fmt::format("{:.2f}", r[key].get<double>()) : "-";
}
double med(const nlohmann::json& cell, const char* key) {
  return cell["median"].value(key, 0.0);
}

void print_table(const nlohmann::json& report) {
  fmt::print(
      "{:<28} {:>9} {:>5} {:>8} {:>9} {:>9} {:>9} {:>8} {:>5} {:>5} {:>9} {:>5} {:>7} "
      "{:>7} {:>7} {:>6} {:>11} {}\n",
      "cell (strategy size xconc backend)", "MB/s", "x", "xfer/s", "p50 ms", "p99 ms", "p99.9 ms",
      "srvCPU/G", "x", "util", "srvCS/G", "x", "cliCPU/G", "cliCS/G", "sys/xfr", "copied",
      "zc cp/compl", "ran");
  for (const auto& c : report["cells"]) {
    const std::string name =
        fmt::format("{} {} x{} {}", c["strategy"].get<std::string>(), format_size(c["size"]),
                    c["concurrency"].get<unsigned>(), c["backend"].get<std::string>());
    if (c["ok_samples"].get<std::size_t>() == 0) {
      fmt::print("{:<28} failed: {}\n", name, c.value("error", std::string("?")));
      continue;
    }
    const double copied = med(c, "bytes_copied_user"), not_copied = med(c, "bytes_not_copied");
    std::string ran;
    for (const auto& [k, v] : c["strategy_ran"].items()) ran += (ran.empty() ? "" : ",") + k;
    if (med(c, "cut") > 0)  // responses still in flight after --grace: the cell is too big
      ran += fmt::format(" ({:.0f} cut at the grace deadline)", med(c, "cut"));
    fmt::print(
        "{:<28} {:>9.0f} {:>5} {:>8.0f} {:>9.3f} {:>9.3f} {:>9.3f} {:>8.3f} {:>5} {:>4.0f}% "
        "{:>9.0f} {:>5} {:>7.3f} {:>7.0f} {:>7.1f} {:>5.0f}% {:>11} {}\n",
        name, med(c, "throughput_bytes_per_s") / 1e6, fmt_ratio(c, "throughput_bytes_per_s"),
        med(c, "transfers_per_s"), med(c, "latency_p50_ns") / 1e6, med(c, "latency_p99_ns") / 1e6,
        med(c, "latency_p999_ns") / 1e6, med(c, "server_cpu_s_per_gib"),
        fmt_ratio(c, "server_cpu_s_per_gib"), 100 * med(c, "server_cpu_utilisation"),
        med(c, "server_ctx_per_gib"), fmt_ratio(c, "server_ctx_per_gib"),
        med(c, "client_cpu_s_per_gib"), med(c, "client_ctx_per_gib"),
        med(c, "syscalls_per_transfer"),
        copied + not_copied > 0 ? 100 * copied / (copied + not_copied) : 0.0,
        fmt::format("{:.0f}/{:.0f}", med(c, "zc_copied"), med(c, "zc_completions")), ran);
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error(last_error("write", path).message());
}

void run_bench(const BenchArgs& a) {
  SampleLimits limits{a.duration, a.grace, a.client_backend};
  if (a.calibrate) {
    CalibrateOptions c;
    c.sizes = parse_list<std::uint64_t>(
        a.sizes == BenchArgs{}.sizes ? "4K,16K,32K,64K,128K,256K,1M,4M,16M,64M" : a.sizes,
        "--sizes", parse_size);
    c.runs = a.runs;
    c.limits = limits;
    c.limits.duration = a.duration == BenchArgs{}.duration ? 0.3 : a.duration;
    c.profile_path = a.profile;
    run_calibrate(c);
    return;
  }
  const std::vector<CellSpec> cells = plan(a);
  const StrategyKind base = strategy_named(a.baseline);
  unsigned max_conc = 0;
  for (const auto& c : cells) max_conc = std::max(max_conc, c.concurrency);
  // The server holds a socket and, for splice or io_uring strategies, a pipe or a ring per
  // connection.
  (void)check(ensure_fds_for(max_conc, 3, 64, "bench"));
  const bool tty = ::isatty(STDOUT_FILENO);
  const double estimate = static_cast<double>(cells.size() * a.runs) * (a.duration + 0.35);
  if (tty)
    fmt::print(
        "zcnet bench: {} cells x {} runs, about {:.0f} s (bounded by --max-seconds {:.0f})\n",
        cells.size(), a.runs, estimate, a.max_seconds);

  PayloadFiles files;
  std::vector<nlohmann::json> samples(cells.size(), nlohmann::json::array());
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t done = 0, skipped = 0;
  const std::size_t total = cells.size() * a.runs;
  for (unsigned run = 0; run < a.runs; ++run)
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const double spent =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      draw_progress(done, total, cell_name(cells[i]));
      if (spent + a.duration + 1 > a.max_seconds) {
        ++skipped;
      } else {
        nlohmann::json s = run_sample(cells[i], limits, files);
        s["run"] = run;
        samples[i].push_back(std::move(s));
      }
      ++done;
    }
  draw_progress(total, total, "");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json out_cells = nlohmann::json::array();
  for (std::size_t i = 0; i < cells.size(); ++i)
    out_cells.push_back(summarise(cells[i], std::move(samples[i])));
  add_ratios(out_cells, cells, base);
  nlohmann::json report{
      {"zcnet_version", ZCNET_VERSION},
      {"machine", describe_machine()},
      {"options",
       {{"strategies", split_list(a.strategies)},
        {"axis_strategies", split_list(a.axis_strategies)},
        {"sizes", split_list(a.sizes)},
        {"concurrency", split_list(a.concurrency)},
        {"backends", split_list(a.backends)},
        {"center_size", a.center_size},
        {"center_concurrency", a.center_concurrency},
        {"runs", a.runs},
        {"duration_s", a.duration},
        {"grace_s", a.grace},
        {"client_backend", a.client_backend}}},
      {"baseline", a.baseline},
      {"seconds", seconds},
      {"skipped_samples", skipped},
      {"notes",
       "Loopback: the receiver's copy bounds throughput; zero-copy shows as less server CPU and "
       "fewer context switches. Every MSG_ZEROCOPY / send_zc completion on loopback is flagged "
       "'copied' by the kernel (zc_copied)."},
      {"cells", std::move(out_cells)}};
  print_table(report);
  if (skipped > 0)
    fmt::print("zcnet bench: {} of {} runs skipped: --max-seconds {:.0f} reached\n", skipped, total,
               a.max_seconds);
  if (!a.json_path.empty()) write_file(a.json_path, report.dump(1) + "\n");
  if (!a.html_path.empty()) write_file(a.html_path, render_html(report));
  fmt::print("zcnet bench: {:.1f} s{}{}\n", seconds,
             a.json_path.empty() ? "" : ", JSON " + a.json_path,
             a.html_path.empty() ? "" : ", HTML " + a.html_path);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench",
      "measure the strategies against each other over loopback, one variable at a time "
      "(docs/bench.md)");
  cmd->add_option("--strategies", a->strategies, "strategies at the center cell")
      ->check(strategy_list_check())
      ->capture_default_str();
  cmd->add_option("--axis-strategies", a->axis_strategies,
                  "strategies run along the size, concurrency and backend axes ('all': every "
                  "--strategies entry, a full grid along each axis)")
      ->check(strategy_list_check(true))
      ->capture_default_str();
  cmd->add_option("--sizes", a->sizes, "payload sizes (K/M/G = KiB/MiB/GiB)")
      ->capture_default_str();
  cmd->add_option("--concurrency", a->concurrency, "connections")->capture_default_str();
  cmd->add_option("--backends", a->backends, "server loop backends (the first is the center)")
      ->check(backend_list_check())
      ->capture_default_str();
  cmd->add_option("--center-size", a->center_size, "the size the other axes are swept at")
      ->capture_default_str();
  cmd->add_option("--center-concurrency", a->center_concurrency,
                  "the concurrency the other axes are swept at")
      ->capture_default_str();
  cmd->add_option("--baseline", a->baseline, "strategy every other is shown as a ratio to")
      ->check(strategy_check())
      ->capture_default_str();
  cmd->add_option("--runs", a->runs, "runs per cell (median and min-max reported)")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  cmd->add_option("--duration", a->duration, "seconds of load per run")
      ->check(CLI::Range(0.05, 60.0))
      ->capture_default_str();
  cmd->add_option("--grace", a->grace, "seconds in-flight responses may take after a run")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  cmd->add_option("--max-seconds", a->max_seconds,
                  "bound on the whole sweep: runs that would start later are skipped")
      ->capture_default_str();
  cmd->add_option("--client-backend", a->client_backend, "the load generator's loop backend")
      ->check(backend_check())
      ->capture_default_str();
  cmd->add_option("--json", a->json_path, "raw samples + machine description ('' = none)")
      ->capture_default_str();
  cmd->add_option("--html", a->html_path, "self-contained HTML report ('' = none)")
      ->capture_default_str();
  cmd->add_flag("--calibrate", a->calibrate,
                "measure the selector's crossover sizes here and write its profile");
  cmd->add_option("--profile", a->profile,
                  "--calibrate: where to write (default $ZCNET_PROFILE, else "
                  "~/.config/zcnet/profile.json)");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace zcnet::cli

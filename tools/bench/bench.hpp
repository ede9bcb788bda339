// `zcnet bench`: what its parts share. A cell is one (strategy, payload size, concurrency, loop
// backend) point; a sample is one timed run of it: the server on a loop thread in this process
// (bench_server.hpp), the load generator as a child process (`zcnet load`), each measured apart.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::cli {

struct CellSpec {
  StrategyKind strategy = StrategyKind::ReadWrite;
  std::uint64_t size = 0;
  unsigned concurrency = 1;
  BackendKind backend = BackendKind::Epoll;
  std::vector<std::string> axes;  // which sweeps this cell belongs to: "strategy", "size", ...

  bool same_point(const CellSpec& o) const {
    return size == o.size && concurrency == o.concurrency && backend == o.backend;
  }
};

struct SampleLimits {
  double duration = 0.5;  // seconds the load generator issues requests
  double grace = 5;       // seconds in-flight responses may take after that
  std::string client_backend = "epoll";
};

// Payload files, one per size, filled once (so the page cache holds them) and unlinked at once.
class PayloadFiles {
 public:
  int fd_for(std::uint64_t size);  // throws on failure

 private:
  std::map<std::uint64_t, UniqueFd> files_;
};

// One timed run of `cell`: every raw measurement as a flat JSON object (docs/bench.md, "Per cell"
// and "Outputs", describes the keys). A run that failed has "error" set and its measurements may be
// absent.
nlohmann::json run_sample(const CellSpec& cell, const SampleLimits& limits, PayloadFiles& files);

// Median / min / max of the numeric key `key` over the samples without "error"; nullopt if none.
struct Spread {
  double median = 0, min = 0, max = 0;
  std::size_t n = 0;
};
std::optional<Spread> spread_of(const nlohmann::json& samples, const std::string& key);

// Kernel, CPU, cores, memory, zcnet version, limits, socket and perf availability.
nlohmann::json describe_machine();

// The self-contained HTML report (inline CSS, JS and SVG; no network fetch) for a bench JSON.
std::string render_html(const nlohmann::json& report);

// `zcnet bench --calibrate`: measures the selector's crossovers here and writes the Profile.
struct CalibrateOptions {
  std::vector<std::uint64_t> sizes;
  unsigned runs = 3;
  SampleLimits limits;
  std::string profile_path;  // empty: Profile::default_path()
  bool quiet = false;
};
void run_calibrate(const CalibrateOptions& options);

// "[#####.....] 12/66 sendfile 1 MiB x100 epoll" on a terminal; nothing otherwise.
void draw_progress(std::size_t done, std::size_t total, const std::string& what);

}  // namespace zcnet::cli

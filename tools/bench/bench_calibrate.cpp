// `zcnet bench --calibrate`: measures, on this machine, the sizes at which the file -> local
// socket strategies cross over, and writes the selector's Profile
// (include/zcnet/transfer/selector.hpp). One connection, the server on epoll (a nonblocking socket
// stepped by a loop, as the selector's "large file" rule assumes); read-write, sendfile and mmap at
// every size, runs interleaved. The remote and MSG_ZEROCOPY thresholds cannot be measured on
// loopback and are kept as they are.
#include <fmt/format.h>

#include <limits>

#include "bench/bench.hpp"
#include "bench/load.hpp"
#include "zcnet/transfer/selector.hpp"

namespace zcnet::cli {

// A strategy "wins" a size only by more than this factor: run-to-run noise on a shared 2-core
// machine is several percent, and a threshold should not move on noise.
constexpr double kMargin = 1.05;

void run_calibrate(const CalibrateOptions& o) {
  const StrategyKind kinds[] = {StrategyKind::ReadWrite, StrategyKind::Sendfile,
                                StrategyKind::Mmap};
  std::vector<CellSpec> cells;
  for (std::uint64_t size : o.sizes)
    for (StrategyKind k : kinds) cells.push_back({k, size, 1, BackendKind::Epoll, {"calibrate"}});
  PayloadFiles files;
  std::vector<nlohmann::json> samples(cells.size(), nlohmann::json::array());
  const std::size_t total = cells.size() * o.runs;
  std::size_t done = 0;
  for (unsigned run = 0; run < o.runs; ++run)
    for (std::size_t i = 0; i < cells.size(); ++i) {
      draw_progress(
          done++, total,
          fmt::format("calibrate {} {}", to_string(cells[i].strategy), format_size(cells[i].size)));
      samples[i].push_back(run_sample(cells[i], o.limits, files));
    }
  draw_progress(total, total, "");

  const std::size_t n = o.sizes.size();
  auto tp = [&](std::size_t size_index, std::size_t kind_index) {
    auto s = spread_of(samples[size_index * 3 + kind_index], "throughput_bytes_per_s");
    return s ? s->median : 0.0;
  };
  std::vector<bool> sendfile_wins(n);
  fmt::print("{:>10} {:>12} {:>12} {:>12}\n", "size", "read-write", "sendfile x", "mmap x");
  for (std::size_t i = 0; i < n; ++i) {
    const double rw = tp(i, 0);
    sendfile_wins[i] = tp(i, 1) > kMargin * rw;
    fmt::print("{:>10} {:>9.0f} MB/s {:>12.2f} {:>12.2f}\n", format_size(o.sizes[i]), rw / 1e6,
               rw > 0 ? tp(i, 1) / rw : 0.0, rw > 0 ? tp(i, 2) / rw : 0.0);
  }

  Profile p = Profile::defaults();
  const std::string path = o.profile_path.empty() ? Profile::default_path() : o.profile_path;
  if (auto existing = Profile::load(path)) p = *existing;  // keeps what loopback cannot measure
  // Large files: from the smallest size at which sendfile wins at every measured size above it
  // (the selector sends those by sendfile on a loop, by mmap on a blocking socket).
  std::size_t tail = n;
  while (tail > 0 && sendfile_wins[tail - 1]) --tail;
  p.local_mmap_min_bytes = tail < n ? o.sizes[tail] : o.sizes.back() * 2;
  // The sendfile window below that: the first run of sizes where sendfile wins.
  std::size_t w0 = 0;
  while (w0 < tail && !sendfile_wins[w0]) ++w0;
  if (w0 < tail) {
    std::size_t w1 = w0;
    while (w1 + 1 < tail && sendfile_wins[w1 + 1]) ++w1;
    p.local_sendfile_min_bytes = o.sizes[w0];
    p.local_sendfile_max_bytes = o.sizes[w1];
  } else {  // sendfile never won below the large-file threshold: an empty window
    p.local_sendfile_min_bytes = std::numeric_limits<std::uint64_t>::max();
    p.local_sendfile_max_bytes = 0;
  }
  if (auto r = p.save(path); !r) fail(r.error());
  fmt::print(
      "profile written to {}: local_sendfile_min_bytes {}, local_sendfile_max_bytes {}, "
      "local_mmap_min_bytes {} (remote_sendfile_min_bytes {} and zerocopy_min_bytes {} kept: not "
      "measurable on loopback)\n",
      path, p.local_sendfile_min_bytes, p.local_sendfile_max_bytes, p.local_mmap_min_bytes,
      p.remote_sendfile_min_bytes, p.zerocopy_min_bytes);
}

}  // namespace zcnet::cli

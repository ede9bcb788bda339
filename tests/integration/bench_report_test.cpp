// `zcnet bench`: a tiny sweep whose JSON is checked for internal consistency (bytes equal
// transfers times size, medians and ratios recomputed from the raw samples, the engine's copy
// counters per strategy), whose HTML report headless Chromium renders with every chart drawn,
// and `--calibrate` writing a profile the selector's Profile::load reads back.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_process.hpp"
#include "support.hpp"
#include "zcnet/transfer/selector.hpp"

namespace zcnet {
namespace {

using namespace std::chrono_literals;
using test::cli;
using test::read_all;
using test::spawn;

// A scratch directory removed with its files.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "zcnet-bench-test-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const char* name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double median_of(const nlohmann::json& samples, const char* key) {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s[key].get<double>());
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One tiny sweep shared by the tests of this file (each test is its own process under ctest, so
// each runs it once; about 2 s).
struct Sweep {
  TempDir dir;
  std::string json_path = dir / "bench.json", html_path = dir / "bench.html";
  int code = -1;
  std::string out, err;
  Sweep() {
    // read-write and mmap: both exist in the portable build too (poll backend there).
    auto c = spawn({cli(), "bench", "--strategies", "read-write,mmap", "--sizes", "64K",
                    "--concurrency", "2", "--backends", test::kReactorBackend, "--duration", "0.3",
                    "--runs", "3", "--json", json_path, "--html", html_path});
    out = read_all(c.out.get());
    err = read_all(c.err.get());
    code = test::wait_exit_within(c.pid, 120s).value_or(-1);
  }
};

TEST(BenchCommand, TinySweep_JsonNumbersAreConsistent) {
  Sweep s;
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find(std::string("read-write 64 KiB x2 ") + test::kReactorBackend),
            std::string::npos)
      << s.out;
  const auto r = nlohmann::json::parse(slurp(s.json_path));
  for (const char* k : {"kernel", "cores", "zcnet_version", "cpu_model", "nofile_limit"})
    EXPECT_TRUE(r["machine"].contains(k)) << k;
  {  // the kernel settings are named (and read) as `zcnet doctor` names them
    auto d = spawn({cli(), "doctor", "--json"});
    const auto doctor = nlohmann::json::parse(read_all(d.out.get()));
    ASSERT_EQ(test::wait_exit(d.pid), 0);
    const auto& sysctl = r["machine"]["sysctl"];
    for (const char* k :
         {"tcp_mem_pages", "tcp_wmem", "tcp_rmem", "optmem_max", "tcp_notsent_lowat"}) {
      ASSERT_TRUE(sysctl.contains(k)) << k;
      ASSERT_TRUE(doctor.contains(k)) << k;
      EXPECT_EQ(sysctl[k], doctor[k]) << k;
    }
    // Typed as doctor types them: triples as arrays of numbers (null where unreadable).
    for (const char* k : {"tcp_mem_pages", "tcp_wmem", "tcp_rmem"})
      EXPECT_TRUE(sysctl[k].is_null() ||
                  (sysctl[k].is_array() && sysctl[k].size() == 3 && sysctl[k][0].is_number()))
          << k << ": " << sysctl[k];
  }
  EXPECT_EQ(r["baseline"], "read-write");
  ASSERT_EQ(r["cells"].size(), 2u);
  const auto& base = r["cells"][0];
  ASSERT_EQ(base["strategy"], "read-write");
  for (const auto& cell : r["cells"]) {
    SCOPED_TRACE(cell["strategy"].get<std::string>());
    ASSERT_EQ(cell["samples"].size(), 3u);
    const std::uint64_t size = cell["size"];
    EXPECT_EQ(size, 65536u);
    for (const auto& smp : cell["samples"]) {
      ASSERT_FALSE(smp.contains("error")) << smp["error"];
      const std::uint64_t transfers = smp["transfers"], bytes = smp["bytes"];
      EXPECT_GT(transfers, 0u);
      EXPECT_EQ(bytes, transfers * size);
      EXPECT_GE(smp["server_bytes"].get<std::uint64_t>(), bytes);
      EXPECT_GT(smp["throughput_bytes_per_s"].get<double>(), 0);
      EXPECT_GT(smp["server_cpu_s_per_gib"].get<double>(), 0);
      EXPECT_GT(smp["client_cpu_s_per_gib"].get<double>(), 0);
      EXPECT_TRUE(smp["socket_options"].contains("SO_SNDBUF"));
      // The engine's own counters say which path the bytes took.
      const std::uint64_t copied = smp["bytes_copied_user"], moved = smp["server_bytes"];
      if (cell["strategy"] == "read-write") {
        EXPECT_EQ(copied, moved);
      } else {
        EXPECT_EQ(copied, 0u);
        EXPECT_EQ(smp["bytes_not_copied"].get<std::uint64_t>(), moved);
      }
      EXPECT_EQ(smp["strategy_ran"].size(), 1u);
      EXPECT_TRUE(smp["strategy_ran"].contains(cell["strategy"].get<std::string>()));
      // Software counters work on this VM; hardware ones are either a number or a reason.
      EXPECT_TRUE(smp["server_perf"]["context_switches"].is_number());
      const auto& llc = smp["server_perf"]["llc_misses"];
      EXPECT_TRUE(llc.is_number() || llc.get<std::string>().rfind("unavailable, because", 0) == 0);
    }
    for (const char* key : {"throughput_bytes_per_s", "server_cpu_s_per_gib", "server_ctx_per_gib",
                            "client_cpu_s_per_gib"}) {
      const double m = median_of(cell["samples"], key);
      EXPECT_DOUBLE_EQ(cell["median"][key].get<double>(), m) << key;
      const double b = median_of(base["samples"], key);
      EXPECT_NEAR(cell["ratio_to_baseline"][key].get<double>(), m / b, 1e-9 * (m / b)) << key;
    }
  }
  EXPECT_DOUBLE_EQ(base["ratio_to_baseline"]["throughput_bytes_per_s"].get<double>(), 1.0);
}

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

TEST(BenchCommand, HtmlReport_ChromiumDrawsEveryChart) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium (scripts/setup.sh installs Debian's chromium)";
  Sweep s;
  ASSERT_EQ(s.code, 0) << s.err;
  const std::string html = slurp(s.html_path);
  // Self-contained: nothing is fetched (the SVG namespace URI is a name, not a fetch).
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);

  TempDir profile;
  auto c =
      spawn({browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--user-data-dir=" + profile.path.string(), "--dump-dom", "file://" + s.html_path});
  const std::string dom = read_all(c.out.get());
  read_all(c.err.get());
  ASSERT_EQ(test::wait_exit_within(c.pid, 90s).value_or(-1), 0);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("data-charts-drawn=\"(\\d+)\"")))
      << dom.substr(0, 2000);
  EXPECT_EQ(std::stoi(m[1]), 5);
  for (const char* chart : {"throughput-vs-concurrency", "throughput-vs-size", "cpu-per-gib",
                            "ctx-per-gib", "latency"}) {
    SCOPED_TRACE(chart);
    const std::regex svg(std::string("<svg[^>]*data-chart=\"") + chart +
                         "\"[^>]*data-series-count=\"(\\d+)\"[^>]*>([\\s\\S]*?)</svg>");
    ASSERT_TRUE(std::regex_search(dom, m, svg));
    const int declared = std::stoi(m[1]);
    const std::string body = m[2];
    int series = 0, marks = 0;
    for (std::size_t at = 0; (at = body.find("class=\"series\"", at)) != std::string::npos; ++at)
      ++series;
    for (const char* mark : {"<circle", "<rect"})
      for (std::size_t at = 0; (at = body.find(mark, at)) != std::string::npos; ++at) ++marks;
    EXPECT_GE(declared, 2);
    EXPECT_EQ(series, declared);
    EXPECT_GE(marks, declared);  // every series drew at least one point or bar
  }
  // The table has a row per cell.
  EXPECT_NE(dom.find("<td class=\"l\">mmap</td>"), std::string::npos);
}

TEST(BenchCommand, Calibrate_WritesAProfileThatProfileLoadReads) {
  TempDir dir;
  const std::string path = dir / "profile.json";
  ASSERT_EQ(::setenv("ZCNET_PROFILE", path.c_str(), 1), 0);
  auto c = spawn(
      {cli(), "bench", "--calibrate", "--sizes", "4K,64K", "--runs", "1", "--duration", "0.1"});
  const std::string out = read_all(c.out.get());
  const std::string err = read_all(c.err.get());
  ASSERT_EQ(test::wait_exit_within(c.pid, 60s).value_or(-1), 0) << err;
  ::unsetenv("ZCNET_PROFILE");
  EXPECT_NE(out.find("profile written to " + path), std::string::npos) << out;
  auto p = Profile::load(path);
  ASSERT_TRUE(p) << p.error().message();
  // Thresholds sit at measured sizes, or mark an empty window / a threshold above the range.
  const std::uint64_t none = UINT64_MAX;
  EXPECT_TRUE(p->local_mmap_min_bytes == 4096 || p->local_mmap_min_bytes == 65536 ||
              p->local_mmap_min_bytes == 2 * 65536);
  EXPECT_TRUE(p->local_sendfile_min_bytes == 4096 || p->local_sendfile_min_bytes == 65536 ||
              p->local_sendfile_min_bytes == none);
  if (p->local_sendfile_min_bytes != none) {
    EXPECT_LE(p->local_sendfile_min_bytes, p->local_sendfile_max_bytes);
  }
  // What loopback cannot measure keeps its default.
  EXPECT_EQ(p->zerocopy_min_bytes, Profile::defaults().zerocopy_min_bytes);
  EXPECT_EQ(p->remote_sendfile_min_bytes, Profile::defaults().remote_sendfile_min_bytes);
}

}  // namespace
}  // namespace zcnet

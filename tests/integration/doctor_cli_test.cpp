// `zcnet doctor` run for real against a fake /proc tree (ZCNET_PROC_ROOT): typed JSON, the
// verdicts of the sysctl checks, an absent sysctl, and the --sysctl-file fragment.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_process.hpp"

namespace zcnet {
namespace {

using test::cli;
using test::read_all;
using test::spawn;
using test::wait_exit;

// A /proc/sys tree of the given sysctls ("net.core.somaxconn" -> "4096"), removed at the end.
class FakeProcRoot {
 public:
  explicit FakeProcRoot(const std::map<std::string, std::string>& sysctls) {
    std::string t = (std::filesystem::temp_directory_path() / "zcnet-doctor-test-XXXXXX").string();
    root_ = ::mkdtemp(t.data());
    for (const auto& [name, value] : sysctls) {
      std::string rel = name;
      std::replace(rel.begin(), rel.end(), '.', '/');
      const auto path = root_ / "proc/sys" / rel;
      std::filesystem::create_directories(path.parent_path());
      std::ofstream(path) << value << "\n";
    }
  }
  ~FakeProcRoot() { std::filesystem::remove_all(root_); }
  std::string env() const { return "ZCNET_PROC_ROOT=" + root_.string(); }

 private:
  std::filesystem::path root_;
};

// Every sysctl doctor reads, set well for 1000 connections except the ones named `_bad`, with
// fs.pipe-user-pages-hard left out (as on a kernel without it).
const std::map<std::string, std::string> kSysctls = {
    {"fs.nr_open", "1048576"},
    {"fs.file-max", "9223372036854775807"},
    {"fs.pipe-max-size", "1048576"},
    {"fs.pipe-user-pages-soft", "0"},
    {"kernel.io_uring_disabled", "0"},
    {"net.core.somaxconn", "128"},  // warn: 1000 wanted, fail below 125
    {"net.core.netdev_max_backlog", "1000"},
    {"net.core.optmem_max", "131072"},
    {"net.ipv4.tcp_max_syn_backlog", "4096"},
    {"net.ipv4.tcp_syncookies", "1"},
    {"net.ipv4.tcp_max_tw_buckets", "50"},  // bad: fail below 1000 / 10
    {"net.ipv4.ip_local_port_range", "32768\t60999"},
    {"net.ipv4.tcp_mem", "1000 2000 3000"},  // 1000 x 4 KiB = 1000 pages: ok
    {"net.ipv4.tcp_rmem", "4096 131072 6291456"},
    {"net.ipv4.tcp_wmem", "4096 16384 4194304"},
    {"net.ipv4.tcp_notsent_lowat", "4294967295"},
    {"net.ipv4.tcp_available_ulp", "mptcp tls"},
    {"vm.max_map_count", "65530"},
};

struct DoctorRun {
  int code = -1;
  std::string out, err;
};

DoctorRun doctor(const FakeProcRoot& root, std::vector<std::string> args) {
  args.insert(args.begin(), {cli(), "doctor"});
  auto c = spawn(args, {root.env()});
  DoctorRun r;
  r.out = read_all(c.out.get());
  r.err = read_all(c.err.get());
  r.code = wait_exit(c.pid);
  return r;
}

const nlohmann::json& check(const nlohmann::json& j, const std::string& name) {
  for (const auto& c : j["checks"])
    if (c["name"] == name) return c;
  static const nlohmann::json none;
  ADD_FAILURE() << "no check " << name;
  return none;
}

TEST(DoctorCli, Json_SysctlsAreTypedNumbersAndArrays) {
  FakeProcRoot root(kSysctls);
  DoctorRun r = doctor(root, {"--json", "--connections", "1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tcp_mem_pages"], nlohmann::json({1000, 2000, 3000}));
  EXPECT_EQ(j["tcp_rmem"], nlohmann::json({4096, 131072, 6291456}));
  EXPECT_EQ(j["optmem_max"], 131072);
  EXPECT_EQ(j["tcp_notsent_lowat"], 4294967295u);
  EXPECT_EQ(j["pipe_max_bytes"], 1048576);
  EXPECT_EQ(j["io_uring_disabled"], 0);
  EXPECT_TRUE(j["io_uring"].is_boolean());
  EXPECT_TRUE(j["nofile_soft"].is_number_unsigned());
  EXPECT_EQ(j["connections"], 1000);
  EXPECT_EQ(j["fds_needed"], 2024);
  EXPECT_EQ(j["proc_root"].is_string(), true);
}

TEST(DoctorCli, Json_KtlsFollowsTheAvailableUlpList) {
  FakeProcRoot root(kSysctls);
  auto j = nlohmann::json::parse(doctor(root, {"--json"}).out);
  EXPECT_EQ(j["tcp_available_ulp"], nlohmann::json({"mptcp", "tls"}));
  EXPECT_EQ(j["ktls"], true);
  auto without = kSysctls;
  without["net.ipv4.tcp_available_ulp"] = "mptcp";
  FakeProcRoot root2(without);
  j = nlohmann::json::parse(doctor(root2, {"--json"}).out);
  EXPECT_EQ(j["ktls"], false);
}

TEST(DoctorCli, Json_ChecksCarryVerdictsAndTypedValues) {
  FakeProcRoot root(kSysctls);
  const auto j = nlohmann::json::parse(doctor(root, {"--json", "--connections", "1000"}).out);
  ASSERT_TRUE(j["checks"].is_array());
  EXPECT_EQ(j["checks"].size(), 15u);
  for (const auto& c : j["checks"]) {
    SCOPED_TRACE(c.dump());
    for (const char* k : {"name", "verdict", "current", "wanted", "why", "fix"})
      EXPECT_TRUE(c.contains(k)) << k;
    EXPECT_TRUE(c["verdict"] == "ok" || c["verdict"] == "warn" || c["verdict"] == "fail");
    EXPECT_TRUE(c["fix"].is_array());
  }
  EXPECT_EQ(check(j, "fs.nr_open")["verdict"], "ok");
  EXPECT_EQ(check(j, "net.ipv4.tcp_mem")["verdict"], "ok");
  EXPECT_EQ(check(j, "net.ipv4.ip_local_port_range")["verdict"], "ok");
  EXPECT_EQ(check(j, "net.ipv4.ip_local_port_range")["current"], nlohmann::json({32768, 60999}));
  EXPECT_EQ(check(j, "net.core.somaxconn")["verdict"], "warn");
  EXPECT_EQ(check(j, "net.core.somaxconn")["current"], 128);
  EXPECT_EQ(check(j, "net.ipv4.tcp_max_tw_buckets")["verdict"], "fail");
  EXPECT_EQ(check(j, "net.ipv4.tcp_max_tw_buckets")["fix"],
            nlohmann::json({"sysctl -w net.ipv4.tcp_max_tw_buckets=1000"}));
}

TEST(DoctorCli, Json_AbsentSysctl_IsUnavailableNotACrash) {
  FakeProcRoot root(kSysctls);
  const auto j = nlohmann::json::parse(doctor(root, {"--json"}).out);
  const auto& c = check(j, "fs.pipe-user-pages-hard");
  EXPECT_EQ(c["verdict"], "warn");
  EXPECT_TRUE(c["current"].is_null());
  EXPECT_NE(c["unavailable"].get<std::string>().find("ENOENT"), std::string::npos) << c;
  EXPECT_NE(c["unavailable"].get<std::string>().find("pipe-user-pages-hard"), std::string::npos);
}

TEST(DoctorCli, EmptyProcRoot_EverySysctlIsNullAndDoctorStillAnswers) {
  FakeProcRoot root({});
  DoctorRun r = doctor(root, {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["tcp_mem_pages"].is_null());
  EXPECT_TRUE(j["io_uring_disabled"].is_null());
  EXPECT_TRUE(j["tcp_available_ulp"].is_null());
  EXPECT_EQ(check(j, "net.ipv4.tcp_mem")["verdict"], "warn");
}

TEST(DoctorCli, SysctlFile_SetsOnlyTheSysctlsNotOk) {
  FakeProcRoot root(kSysctls);
  DoctorRun r = doctor(root, {"--sysctl-file", "--connections", "1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\nnet.ipv4.tcp_max_tw_buckets = 1000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nnet.core.somaxconn = 1000\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\nfs.nr_open ="), std::string::npos) << "ok: left alone";
  EXPECT_EQ(r.out.find("\nfs.pipe-user-pages-hard ="), std::string::npos) << "absent: left out";
  EXPECT_NE(r.out.find("# fs.pipe-user-pages-hard: left out"), std::string::npos) << r.out;
  for (std::size_t at = 0, end; at < r.out.size(); at = end + 1) {  // comments or key = value
    end = r.out.find('\n', at);
    const std::string line = r.out.substr(at, end - at);
    EXPECT_TRUE(line.empty() || line[0] == '#' || line.find(" = ") != std::string::npos) << line;
  }
}

TEST(DoctorCli, SysctlFile_TriplesAreSpaceSeparated) {
  auto tight = kSysctls;
  tight["net.ipv4.tcp_mem"] = "100 200 300";
  FakeProcRoot root(tight);
  DoctorRun r = doctor(root, {"--sysctl-file", "--connections", "1000"});
  EXPECT_NE(r.out.find("\nnet.ipv4.tcp_mem = 100 1000 1500\n"), std::string::npos) << r.out;
}

TEST(DoctorCli, Text_VerdictsFirstThenFeatures) {
  FakeProcRoot root(kSysctls);
  DoctorRun r = doctor(root, {"--connections", "1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto table = r.out.find("VERDICT");
  const auto features = r.out.find("\nFeatures\n");
  ASSERT_NE(table, std::string::npos) << r.out;
  ASSERT_NE(features, std::string::npos) << r.out;
  EXPECT_LT(table, features);
  EXPECT_NE(r.out.find("FAIL     net.ipv4.tcp_max_tw_buckets"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fix: sysctl -w net.ipv4.tcp_max_tw_buckets=1000"), std::string::npos);
  EXPECT_NE(r.out.find("unavailable: open: ENOENT"), std::string::npos) << r.out;
}

TEST(DoctorCli, ConnectionsZero_IsAUsageError) {
  FakeProcRoot root(kSysctls);
  EXPECT_NE(doctor(root, {"--connections", "0"}).code, 0);
}

TEST(DoctorCli, JsonAndSysctlFile_AreExclusive) {
  FakeProcRoot root(kSysctls);
  EXPECT_NE(doctor(root, {"--json", "--sysctl-file"}).code, 0);
}

}  // namespace
}  // namespace zcnet

// `zcnet doctor`'s limit checks, each verdict reached directly through check_limits()'s inputs.
#include "doctor_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace zcnet::cli::doctor {
namespace {

Reading num(std::int64_t v) {
  return {.numbers = {v}, .unavailable = {}};
}
Reading nums(std::vector<std::int64_t> v) {
  return {.numbers = std::move(v), .unavailable = {}};
}

// 50,000 connections on a system tuned for them: every check is ok.
LimitInputs tuned() {
  LimitInputs in;
  in.connections = 50'000;  // fds_needed: 55,000
  in.per_connection_bytes = 4096;
  in.page_bytes = 4096;
  in.loops = 4;
  in.kernel_major = 6;
  in.kernel_minor = 1;
  in.zcnet = zcnet_sizes();
  in.nofile = {.soft = 200'000, .hard = 200'000};
  in.memlock = {.soft = kUnlimited, .hard = kUnlimited};
  in.nr_open = num(1'048'576);
  in.file_max = num(10'000'000);
  in.somaxconn = num(65'535);
  in.tcp_max_syn_backlog = num(65'535);
  in.tcp_syncookies = num(1);
  in.tcp_max_tw_buckets = num(262'144);
  in.ip_local_port_range = nums({1024, 65535});
  in.max_map_count = num(65'530);
  in.tcp_mem = nums({100'000, 200'000, 300'000});  // 50,000 pages wanted
  in.netdev_max_backlog = num(16'384);
  in.pipe_max_size = num(1 << 20);
  in.pipe_user_pages_soft = num(2'000'000);
  in.pipe_user_pages_hard = num(0);
  return in;
}

Check check_named(const LimitInputs& in, std::string_view name) {
  for (Check& c : check_limits(in))
    if (c.name == name) return c;
  ADD_FAILURE() << "no check named " << name;
  return {};
}

Verdict verdict_of(const LimitInputs& in, std::string_view name) {
  return check_named(in, name).verdict;
}

TEST(DoctorLimits, FdsNeeded_IsConnectionsPlusATenthAtLeast1024) {
  EXPECT_EQ(fds_needed(100'000), 110'000u);
  EXPECT_EQ(fds_needed(1'000), 2'024u);
}

TEST(DoctorLimits, TunedSystem_EveryCheckIsOkWithNoFix) {
  const auto checks = check_limits(tuned());
  EXPECT_EQ(checks.size(), 15u);
  for (const Check& c : checks) {
    EXPECT_EQ(c.verdict, Verdict::Ok) << c.name << ": " << c.why;
    EXPECT_TRUE(c.fix.empty()) << c.name;
    EXPECT_FALSE(c.why.empty()) << c.name;
  }
}

TEST(DoctorLimits, EveryCheckNotOk_SaysWhyAndHowToFix) {
  LimitInputs in = tuned();
  in.connections = 10'000'000;  // beyond every tuned value
  for (const Check& c : check_limits(in)) {
    if (c.verdict == Verdict::Ok) continue;
    EXPECT_FALSE(c.why.empty()) << c.name;
    if (c.name != "net.ipv4.ip_local_port_range") {  // at its widest, no sysctl helps
      EXPECT_FALSE(c.fix.empty()) << c.name;
    }
  }
}

TEST(DoctorLimits, SysctlUnavailable_IsWarnWithNullCurrentAndTheReason) {
  LimitInputs in = tuned();
  in.nr_open = {.numbers = {}, .unavailable = "open: ENOENT (No such file or directory): x"};
  const Check c = check_named(in, "fs.nr_open");
  EXPECT_EQ(c.verdict, Verdict::Warn);
  EXPECT_TRUE(c.current.is_null());
  EXPECT_EQ(c.unavailable, "open: ENOENT (No such file or directory): x");
  EXPECT_TRUE(c.fix.empty());
}

TEST(DoctorLimits, TripleWithTooFewNumbers_IsUnavailable) {
  LimitInputs in = tuned();
  in.tcp_mem = nums({1, 2});
  const Check c = check_named(in, "net.ipv4.tcp_mem");
  EXPECT_EQ(c.verdict, Verdict::Warn);
  EXPECT_EQ(c.unavailable, "expected 3 numbers");
}

// RLIMIT_NOFILE soft: zcnet raises it to the hard limit itself, so only a low hard limit fails.
TEST(DoctorLimits, NofileSoft_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_soft"), Verdict::Ok);
  in.nofile = {.soft = 1024, .hard = 200'000};
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_soft"), Verdict::Warn);
  in.nofile = {.soft = 1024, .hard = 40'000};
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_soft"), Verdict::Fail);
}

TEST(DoctorLimits, NofileSoft_FixIsUlimitAndSystemdLines) {
  LimitInputs in = tuned();
  in.nofile = {.soft = 1024, .hard = 200'000};
  const Check c = check_named(in, "rlimit_nofile_soft");
  EXPECT_EQ(c.fix, (std::vector<std::string>{"ulimit -n 55000", "LimitNOFILE=55000"}));
  EXPECT_EQ(c.current, 1024);
  EXPECT_EQ(c.wanted, 55'000);
}

TEST(DoctorLimits, NofileHard_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_hard"), Verdict::Ok);
  in.nofile = {.soft = 52'000, .hard = 52'000};  // 50,000 sockets fit, the headroom does not
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_hard"), Verdict::Warn);
  in.nofile = {.soft = 20'000, .hard = 20'000};
  EXPECT_EQ(verdict_of(in, "rlimit_nofile_hard"), Verdict::Fail);
}

TEST(DoctorLimits, NofileHardBelowConnections_SaysHowManyWorkerProcesses) {
  LimitInputs in = tuned();
  in.nofile = {.soft = 20'000, .hard = 20'000};  // 55,000 fds / 20,000 = 3 processes
  EXPECT_NE(check_named(in, "rlimit_nofile_hard").why.find("run 3 worker processes"),
            std::string::npos);
}

TEST(DoctorLimits, NofileHardAboveNrOpen_FixRaisesNrOpenFirst) {
  LimitInputs in = tuned();
  in.nofile = {.soft = 20'000, .hard = 20'000};
  in.nr_open = num(30'000);
  EXPECT_EQ(check_named(in, "rlimit_nofile_hard").fix.front(), "sysctl -w fs.nr_open=55000");
}

TEST(DoctorLimits, NrOpen_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "fs.nr_open"), Verdict::Ok);
  in.nr_open = num(52'000);
  EXPECT_EQ(verdict_of(in, "fs.nr_open"), Verdict::Warn);
  in.nr_open = num(49'999);
  EXPECT_EQ(verdict_of(in, "fs.nr_open"), Verdict::Fail);
}

TEST(DoctorLimits, FileMax_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "fs.file-max"), Verdict::Ok);
  in.file_max = num(100'000);  // fits 55,000 once, not twice
  EXPECT_EQ(verdict_of(in, "fs.file-max"), Verdict::Warn);
  in.file_max = num(54'999);
  EXPECT_EQ(verdict_of(in, "fs.file-max"), Verdict::Fail);
}

TEST(DoctorLimits, Somaxconn_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.core.somaxconn"), Verdict::Ok);
  in.somaxconn = num(1024);
  EXPECT_EQ(verdict_of(in, "net.core.somaxconn"), Verdict::Warn);
  in.somaxconn = num(128);
  EXPECT_EQ(verdict_of(in, "net.core.somaxconn"), Verdict::Fail);
}

TEST(DoctorLimits, Somaxconn_WantsZcnetsListenBacklog) {
  LimitInputs in = tuned();
  in.somaxconn = num(128);
  const Check c = check_named(in, "net.core.somaxconn");
  EXPECT_EQ(c.wanted, in.zcnet.listen_backlog);
  EXPECT_EQ(c.fix, std::vector<std::string>{"sysctl -w net.core.somaxconn=" +
                                            std::to_string(in.zcnet.listen_backlog)});
}

TEST(DoctorLimits, SynBacklog_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_syn_backlog"), Verdict::Ok);
  in.tcp_max_syn_backlog = num(512);
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_syn_backlog"), Verdict::Warn) << "syncookies on";
  in.tcp_syncookies = num(0);
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_syn_backlog"), Verdict::Fail);
}

TEST(DoctorLimits, SynBacklogWithSyncookiesOff_FixTurnsThemOn) {
  LimitInputs in = tuned();
  in.tcp_max_syn_backlog = num(512);
  in.tcp_syncookies = num(0);
  EXPECT_EQ(check_named(in, "net.ipv4.tcp_max_syn_backlog").fix.back(),
            "sysctl -w net.ipv4.tcp_syncookies=1");
}

TEST(DoctorLimits, NetdevMaxBacklog_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.core.netdev_max_backlog"), Verdict::Ok);
  in.netdev_max_backlog = num(1000);
  EXPECT_EQ(verdict_of(in, "net.core.netdev_max_backlog"), Verdict::Warn);
  in.netdev_max_backlog = num(300);
  EXPECT_EQ(verdict_of(in, "net.core.netdev_max_backlog"), Verdict::Fail);
}

TEST(DoctorLimits, NetdevMaxBacklog_KernelDefaultIsOkForFewConnections) {
  LimitInputs in = tuned();
  in.connections = 5'000;
  in.netdev_max_backlog = num(1000);
  EXPECT_EQ(verdict_of(in, "net.core.netdev_max_backlog"), Verdict::Ok);
}

TEST(DoctorLimits, TwBuckets_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_tw_buckets"), Verdict::Ok);
  in.tcp_max_tw_buckets = num(16'384);
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_tw_buckets"), Verdict::Warn);
  in.tcp_max_tw_buckets = num(4'096);
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_max_tw_buckets"), Verdict::Fail);
}

TEST(DoctorLimits, PortRange_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.ipv4.ip_local_port_range"), Verdict::Ok);
  in.ip_local_port_range = nums({32768, 60999});  // 28,232 ports: a quarter of 50,000 and more
  EXPECT_EQ(verdict_of(in, "net.ipv4.ip_local_port_range"), Verdict::Warn);
  in.ip_local_port_range = nums({60000, 61000});
  EXPECT_EQ(verdict_of(in, "net.ipv4.ip_local_port_range"), Verdict::Fail);
}

TEST(DoctorLimits, PortRangeNarrow_WantsTheWidestRangeAsAnArray) {
  LimitInputs in = tuned();
  in.ip_local_port_range = nums({32768, 60999});
  const Check c = check_named(in, "net.ipv4.ip_local_port_range");
  EXPECT_EQ(c.current, nlohmann::json({32768, 60999}));
  EXPECT_EQ(c.wanted, nlohmann::json({1024, 65535}));
  EXPECT_EQ(c.fix,
            std::vector<std::string>{"sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\""});
  EXPECT_NE(c.why.find("need 2 upstream or source addresses"), std::string::npos) << c.why;
}

TEST(DoctorLimits, PortRangeWidestButShort_WarnsWithNoSysctlToRaise) {
  LimitInputs in = tuned();
  in.connections = 100'000;
  const Check c = check_named(in, "net.ipv4.ip_local_port_range");
  EXPECT_EQ(c.verdict, Verdict::Warn);
  EXPECT_TRUE(c.fix.empty());
  EXPECT_EQ(c.wanted, c.current);
}

TEST(DoctorLimits, TcpMem_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_mem"), Verdict::Ok);
  in.tcp_mem = nums({20'000, 40'000, 60'000});  // 50,000 pages: past pressure, below max
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_mem"), Verdict::Warn);
  in.tcp_mem = nums({10'000, 20'000, 30'000});
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_mem"), Verdict::Fail);
}

TEST(DoctorLimits, TcpMem_ScalesWithPerConnectionBytes) {
  LimitInputs in = tuned();
  in.per_connection_bytes = 64 * 1024;  // 800,000 pages
  EXPECT_EQ(verdict_of(in, "net.ipv4.tcp_mem"), Verdict::Fail);
}

TEST(DoctorLimits, TcpMemShort_WantsPressureAtTheNeedAndAnOrderedTriple) {
  LimitInputs in = tuned();
  in.tcp_mem = nums({10'000, 20'000, 30'000});
  const Check c = check_named(in, "net.ipv4.tcp_mem");
  EXPECT_EQ(c.wanted, nlohmann::json({10'000, 50'000, 75'000}));
  EXPECT_EQ(c.fix, std::vector<std::string>{"sysctl -w net.ipv4.tcp_mem=\"10000 50000 75000\""});
}

TEST(DoctorLimits, MaxMapCount_Verdicts) {
  LimitInputs in = tuned();  // 4 loops x 64 cached files + 1024 = 1280 mappings
  EXPECT_EQ(verdict_of(in, "vm.max_map_count"), Verdict::Ok);
  in.max_map_count = num(2'000);
  EXPECT_EQ(verdict_of(in, "vm.max_map_count"), Verdict::Warn);
  in.max_map_count = num(1'000);
  EXPECT_EQ(verdict_of(in, "vm.max_map_count"), Verdict::Fail);
}

TEST(DoctorLimits, Memlock_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "rlimit_memlock"), Verdict::Ok) << "unlimited";
  in.memlock = {.soft = 64 * 1024, .hard = 64 * 1024};
  EXPECT_EQ(verdict_of(in, "rlimit_memlock"), Verdict::Warn) << "registration fails, rings work";
  in.kernel_major = 5;
  in.kernel_minor = 10;  // rings themselves are locked memory
  EXPECT_EQ(verdict_of(in, "rlimit_memlock"), Verdict::Fail);
}

TEST(DoctorLimits, Memlock_FixIsUlimitInKibAndSystemdInBytes) {
  LimitInputs in = tuned();
  in.memlock = {.soft = 64 * 1024, .hard = 64 * 1024};
  const std::uint64_t wanted = in.loops * in.zcnet.registered_bytes;
  EXPECT_EQ(check_named(in, "rlimit_memlock").fix,
            (std::vector<std::string>{"ulimit -l " + std::to_string((wanted + 1023) / 1024),
                                      "LimitMEMLOCK=" + std::to_string(wanted)}));
}

TEST(DoctorLimits, PipeMaxSize_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "fs.pipe-max-size"), Verdict::Ok);
  in.pipe_max_size = num(256 * 1024);
  EXPECT_EQ(verdict_of(in, "fs.pipe-max-size"), Verdict::Warn);
  in.pipe_max_size = num(16 * 1024);
  EXPECT_EQ(verdict_of(in, "fs.pipe-max-size"), Verdict::Fail);
}

// The pool's 4096 pipes of 1 MiB want 1,048,576 pages; default-size ones 65,536.
TEST(DoctorLimits, PipeUserPagesSoft_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-soft"), Verdict::Ok);
  in.pipe_user_pages_soft = num(0);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-soft"), Verdict::Ok) << "0: no limit";
  in.pipe_user_pages_soft = num(100'000);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-soft"), Verdict::Warn);
  in.pipe_user_pages_soft = num(16'384);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-soft"), Verdict::Fail);
}

TEST(DoctorLimits, PipeUserPagesHard_Verdicts) {
  LimitInputs in = tuned();
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-hard"), Verdict::Ok) << "0: no limit";
  in.pipe_user_pages_hard = num(100'000);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-hard"), Verdict::Warn);
  in.pipe_user_pages_hard = num(4'096);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-hard"), Verdict::Fail);
}

TEST(DoctorLimits, PipeChecks_FewConnectionsWantFewerPipes) {
  LimitInputs in = tuned();
  in.connections = 100;  // 200 moving directions, not the pool's 4096
  in.pipe_user_pages_soft = num(200 * 256);
  EXPECT_EQ(verdict_of(in, "fs.pipe-user-pages-soft"), Verdict::Ok);
}

TEST(DoctorLimits, VerdictNames_AreTheJsonStrings) {
  EXPECT_EQ(to_string(Verdict::Ok), "ok");
  EXPECT_EQ(to_string(Verdict::Warn), "warn");
  EXPECT_EQ(to_string(Verdict::Fail), "fail");
}

}  // namespace
}  // namespace zcnet::cli::doctor

// tools/trace/*.bt run for real where `zcnet doctor` says they can (bpftrace, tracefs, privileges),
// each bounded in time, while zcnet serve sends a file; skipped with doctor's reason elsewhere.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

#include "cli_process.hpp"
#include "http_fixture.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

// `zcnet doctor --json`'s "ebpf" object.
nlohmann::json doctor_ebpf() {
  Child c = spawn({cli(), "doctor", "--json"});
  const std::string out = read_all(c.out.get());
  (void)read_all(c.err.get());
  EXPECT_EQ(wait_exit(c.pid), 0);
  return nlohmann::json::parse(out).at("ebpf");
}

class EbpfScripts : public HttpServeTest {
 protected:
  void SetUp() override {
    HttpServeTest::SetUp();
    ebpf_ = doctor_ebpf();
    if (!ebpf_.at("can_run").get<bool>())
      GTEST_SKIP() << "zcnet doctor: the bpftrace scripts cannot run here: "
                   << ebpf_.at("advice").dump();
  }
  // Runs `bpftrace SCRIPT ARGS...` (each script exits by itself after its seconds argument)
  // while `load` runs; its stdout and stderr.
  std::string run_script(const std::string& script, std::vector<std::string> args,
                         const std::function<void()>& load) {
    args.insert(args.begin(), {ebpf_.at("bpftrace").get<std::string>(),
                               ebpf_.at("scripts").get<std::string>() + "/" + script});
    Child c = spawn(args);
    std::this_thread::sleep_for(1500ms);  // probes attached (bpftrace prints "Attaching")
    load();
    const auto code = wait_exit_within(c.pid, 60s);
    std::string out = read_all(c.out.get()) + read_all(c.err.get());
    EXPECT_TRUE(code) << script << " did not exit by itself: " << out;
    if (code) {
      EXPECT_EQ(*code, 0) << out;
    }
    return out;
  }
  nlohmann::json ebpf_;
};
INSTANTIATE_TEST_SUITE_P(Backends, EbpfScripts, ::testing::Values(kReactorBackend),
                         backend_param_name);

TEST_P(EbpfScripts, BytesCountsTheServersSendfileBytes) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  start({"--strategy", "sendfile"});
  const std::string out = run_script("bytes.bt", {"zcnet", "3"}, [&] {
    auto c = client();
    for (int i = 0; i < 3; ++i) {
      auto r = c.request("/f" + std::to_string(kBig) + ".bin");
      ASSERT_TRUE(r);
      EXPECT_EQ(hash_of(r->body), file_hash(kBig));
    }
  });
  // Every zcnet process counts (tests may run side by side), so at least this server's bytes.
  std::uint64_t sendfile = 0;
  const std::regex line(R"(@bytes\[zcnet, sendfile\]: (\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
       ++it)
    sendfile += std::stoull((*it)[1]);
  EXPECT_GE(sendfile, 3 * kBig) << out;
}

TEST_P(EbpfScripts, SyscallLatencyHasSendfileHistogram) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  start({"--strategy", "sendfile"});
  const std::string out = run_script("syscall-latency.bt", {"zcnet", "3"}, [&] {
    auto c = client();
    ASSERT_TRUE(c.request("/f" + std::to_string(kBig) + ".bin"));
  });
  EXPECT_NE(out.find("@usecs[tracepoint:syscalls:sys_enter_sendfile64]"), std::string::npos) << out;
}

TEST_P(EbpfScripts, RetransmitsRunsAndExits) {
  // Loopback seldom retransmits: the script must attach, print its per-second lines and exit.
  const std::string out = run_script("retransmits.bt", {"2"}, [] {});
  EXPECT_NE(out.find("zcnet retransmits.bt"), std::string::npos) << out;
}

}  // namespace
}  // namespace zcnet::test

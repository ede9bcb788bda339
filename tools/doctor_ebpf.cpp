// zcnet doctor's eBPF checks (doctor_ebpf.hpp).
#include "doctor_ebpf.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "sysctl.hpp"

namespace zcnet::cli::doctor {

namespace {

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t at = 0;
  while (at <= dirs.size()) {
    const std::size_t colon = dirs.find(':', at);
    const std::string dir =
        dirs.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  return {};
}

// The first line `cmd` prints (stderr included), or "" if it cannot run.
std::string first_line(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {};
  std::array<char, 256> buf{};
  std::string line;
  if (std::fgets(buf.data(), buf.size(), p)) line = buf.data();
  ::pclose(p);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// Effective capabilities (CapEff in /proc/self/status), 0 if unreadable.
unsigned long long effective_caps() {
  std::ifstream in(proc_path("/proc/self/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("CapEff:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 16);
  return 0;
}

}  // namespace

nlohmann::json probe_ebpf() {
  constexpr int kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;
  const std::string bpftrace = find_on_path("bpftrace");
  std::string tracefs;
  for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    if (exists(std::string(dir) + "/events")) {
      tracefs = dir;
      break;
    }
  const bool syscalls = !tracefs.empty() && exists(tracefs + "/events/syscalls");
  const bool tcp = !tracefs.empty() && exists(tracefs + "/events/tcp/tcp_retransmit_skb");
  const bool btf = exists("/sys/kernel/btf/vmlinux");
  const bool kprobes = !tracefs.empty() && exists(tracefs + "/kprobe_events");
  const unsigned long long caps = effective_caps();
  const auto has = [&](int cap) { return (caps >> cap) & 1ULL; };
  const bool privileged =
      ::geteuid() == 0 || has(kCapSysAdmin) || (has(kCapBpf) && has(kCapPerfmon));
  const bool can_run = !bpftrace.empty() && syscalls && tcp && privileged;

  std::vector<std::string> advice;
  if (bpftrace.empty())
    advice.push_back("install bpftrace: apt-get install bpftrace (scripts/setup.sh does)");
  if (tracefs.empty())
    advice.push_back("mount tracefs: mount -t tracefs nodev /sys/kernel/tracing");
  else if (!syscalls)
    advice.push_back("the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)");
  if (!tracefs.empty() && !tcp)
    advice.push_back(
        "the kernel has no tcp:tcp_retransmit_skb tracepoint: retransmits.bt "
        "cannot run");
  if (!privileged)
    advice.push_back("run as root, or with CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");

  nlohmann::json j{
      {"bpftrace", bpftrace.empty() ? nlohmann::json() : nlohmann::json(bpftrace)},
      {"bpftrace_version",
       bpftrace.empty() ? nlohmann::json() : nlohmann::json(first_line(bpftrace + " --version"))},
      {"tracefs", tracefs.empty() ? nlohmann::json() : nlohmann::json(tracefs)},
      {"syscall_tracepoints", syscalls},
      {"tcp_tracepoints", tcp},
      {"btf", btf},
      {"kprobes", kprobes},
      {"privileged", privileged},
      {"can_run", can_run},
      {"scripts", std::string(ZCNET_SOURCE_DIR) + "/tools/trace"},
      {"advice", advice}};
  return j;
}

}  // namespace zcnet::cli::doctor

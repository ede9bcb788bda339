// `zcnet doctor`: can this system hold N connections, and what does its kernel allow? Reads only:
// the fixes it prints are for the operator to apply.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "doctor_ebpf.hpp"
#include "doctor_limits.hpp"
#include "doctor_system.hpp"
#include "sizes.hpp"
#include "sysctl.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/selector.hpp"

namespace zcnet::cli {

namespace {

using doctor::Check;
using doctor::Verdict;

struct DoctorArgs {
  std::uint64_t connections = doctor::kDefaultConnections;
  std::string per_connection_bytes = std::to_string(doctor::kSocketBytesPerConnection);
  bool json = false;
  bool sysctl_file = false;
};

nlohmann::json profile_json() {
  auto loaded = Profile::load(Profile::default_path());
  const Profile p = loaded ? *loaded : Profile::defaults();
  return {{"local_sendfile_min_bytes", p.local_sendfile_min_bytes},
          {"local_sendfile_max_bytes", p.local_sendfile_max_bytes},
          {"local_mapped_max_bytes", p.local_mapped_max_bytes},
          {"local_mmap_min_bytes", p.local_mmap_min_bytes},
          {"remote_sendfile_min_bytes", p.remote_sendfile_min_bytes},
          {"zerocopy_min_bytes", p.zerocopy_min_bytes},
          {"server_local_sendfile_max_bytes", p.server_local_sendfile_max_bytes}};
}

// Kernel features and settings, one typed value per key (null: cannot be read here).
nlohmann::json features_json(const doctor::LimitInputs& in) {
  const Capabilities& c = Capabilities::probe();
  const doctor::KernelFeatures f = doctor::probe_kernel_features(c);
  nlohmann::json j{{"kernel", c.kernel},
                   {"sendfile", c.sendfile},
                   {"splice", c.splice},
                   {"tee", c.tee},
                   {"msg_zerocopy", c.msg_zerocopy},
                   {"io_uring", c.io_uring},
                   {"io_uring_blocked_by", f.io_uring_blocked_by},
                   {"io_uring_disabled", f.io_uring_disabled},
                   {"io_uring_send", c.uring_send},
                   {"io_uring_send_zc", c.uring_send_zc},
                   {"io_uring_splice", c.uring_splice},
                   {"io_uring_fixed_buffers", c.uring_fixed_buffers},
                   {"io_uring_loop", c.uring_loop},
                   {"loop_backend", to_string(auto_backend())},
                   {"tcp_cork", f.tcp_cork},
                   {"so_reuseport", f.so_reuseport},
                   {"tcp_notsent_lowat_option", f.tcp_notsent_lowat},
                   {"ktls", f.ktls},
                   {"tcp_available_ulp", f.tcp_available_ulp},
                   {"pipe_max_bytes", sysctl_json("fs.pipe-max-size")},
                   {"optmem_max", sysctl_json("net.core.optmem_max")},
                   // serve sets its own TCP_NOTSENT_LOWAT (--notsent-lowat); others inherit this
                   {"tcp_notsent_lowat", sysctl_json("net.ipv4.tcp_notsent_lowat")},
                   {"tcp_wmem", sysctl_json("net.ipv4.tcp_wmem")},
                   {"tcp_rmem", sysctl_json("net.ipv4.tcp_rmem")},
                   {"tcp_mem_pages", sysctl_json("net.ipv4.tcp_mem")},
                   {"nofile_soft", in.nofile.soft},
                   {"nofile_hard", in.nofile.hard},
                   {"profile_path", Profile::default_path()},
                   {"profile", profile_json()}};
  if (!proc_root().empty()) j["proc_root"] = proc_root();
  return j;
}

nlohmann::json check_json(const Check& c) {
  nlohmann::json j{{"name", c.name},       {"verdict", doctor::to_string(c.verdict)},
                   {"current", c.current}, {"wanted", c.wanted},
                   {"why", c.why},         {"fix", c.fix}};
  if (!c.unavailable.empty()) j["unavailable"] = c.unavailable;
  return j;
}

// A value as the text table shows it: "unlimited" for RLIM_INFINITY, arrays space-separated.
std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "unavailable";
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : " ") + value_text(e);
    return s;
  }
  if (v.is_number_unsigned() && v.get<std::uint64_t>() == doctor::kUnlimited) return "unlimited";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void print_text(const doctor::LimitInputs& in, const std::vector<Check>& checks,
                const nlohmann::json& features, const nlohmann::json& ebpf) {
  fmt::print("Limits for {} connections ({} fds, {} of socket memory each)\n\n", in.connections,
             doctor::fds_needed(in.connections), format_size(in.per_connection_bytes));
  fmt::print("{:<7}  {:<29} {:<22} {}\n", "VERDICT", "CHECK", "CURRENT", "WANTED");
  std::size_t counts[3] = {};
  for (const Check& c : checks) {
    ++counts[static_cast<int>(c.verdict)];
    std::string verdict(doctor::to_string(c.verdict));
    std::transform(verdict.begin(), verdict.end(), verdict.begin(), ::toupper);
    fmt::print("{:<7}  {:<29} {:<22} {}\n", verdict, c.name, value_text(c.current),
               value_text(c.wanted));
    if (c.verdict == Verdict::Ok) continue;
    if (!c.unavailable.empty()) fmt::print("         unavailable: {}\n", c.unavailable);
    fmt::print("         {}\n", c.why);
    for (std::size_t i = 0; i < c.fix.size(); ++i)
      fmt::print("         {} {}\n", i == 0 ? "fix:" : "    ", c.fix[i]);
  }
  fmt::print("\n{} checks: {} ok, {} warn, {} fail\n\nFeatures\n", checks.size(), counts[0],
             counts[1], counts[2]);
  for (const auto& [key, value] : features.items()) {
    if (key == "io_uring_blocked_by" && value.is_null()) continue;  // io_uring is on
    fmt::print("{:<25} {}\n", key, key == "profile" ? value.dump() : value_text(value));
  }
  fmt::print("\neBPF (bpftrace scripts in {}): {}\n", ebpf["scripts"].get<std::string>(),
             ebpf["can_run"].get<bool>() ? "can run here" : "cannot run here");
  for (const auto& [key, value] : ebpf.items())
    if (key != "advice" && key != "scripts" && key != "can_run")
      fmt::print("{:<25} {}\n", key, value_text(value));
  for (const auto& step : ebpf["advice"]) fmt::print("fix: {}\n", step.get<std::string>());
}

// A /etc/sysctl.d fragment that sets every sysctl not ok to its wanted value.
void print_sysctl_file(const doctor::LimitInputs& in, const std::vector<Check>& checks) {
  fmt::print(
      "# zcnet doctor --sysctl-file --connections {}\n"
      "# Save as /etc/sysctl.d/60-zcnet.conf and load with `sysctl --system`.\n",
      in.connections);
  bool any = false;
  for (const Check& c : checks) {
    if (c.verdict == Verdict::Ok) continue;
    if (c.sysctl.empty()) {
      fmt::print("\n# {} is not a sysctl: {}\n", c.name, fmt::join(c.fix, " or "));
      continue;
    }
    if (!c.unavailable.empty()) {
      fmt::print("\n# {}: left out, it cannot be read here ({})\n", c.sysctl, c.unavailable);
      continue;
    }
    if (c.wanted == c.current) {
      fmt::print("\n# {}: no sysctl helps: {}\n", c.sysctl, c.why);
      continue;
    }
    any = true;
    fmt::print("\n# {} ({}, now {}): {}\n{} = {}\n", c.sysctl, doctor::to_string(c.verdict),
               value_text(c.current), c.why, c.sysctl, value_text(c.wanted));
  }
  if (!any) fmt::print("\n# every sysctl checked is enough for {} connections\n", in.connections);
}

void run_doctor(const DoctorArgs& a) {
  const std::uint64_t per_connection = parse_size(a.per_connection_bytes);
  if (per_connection == 0) throw std::runtime_error("--per-connection-bytes must be above 0");
  const doctor::LimitInputs in = doctor::read_limit_inputs(a.connections, per_connection);
  const std::vector<Check> checks = doctor::check_limits(in);
  if (a.sysctl_file) {
    print_sysctl_file(in, checks);
    return;
  }
  nlohmann::json features = features_json(in);
  nlohmann::json ebpf = doctor::probe_ebpf();
  if (!a.json) {
    print_text(in, checks, features, ebpf);
    return;
  }
  nlohmann::json j = std::move(features);
  j["ebpf"] = std::move(ebpf);
  j["connections"] = in.connections;
  j["per_connection_bytes"] = in.per_connection_bytes;
  j["fds_needed"] = doctor::fds_needed(in.connections);
  j["checks"] = nlohmann::json::array();
  for (const Check& c : checks) j["checks"].push_back(check_json(c));
  fmt::print("{}\n", j.dump(2));
}

}  // namespace

void add_doctor(CLI::App& app) {
  auto a = std::make_shared<DoctorArgs>();
  auto* cmd = app.add_subcommand(
      "doctor", "check the limits for N connections and show the kernel features zcnet relies on");
  cmd->add_option("--connections", a->connections, "connections to check the limits for")
      ->capture_default_str()
      ->type_name("N")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
  cmd->add_option("--per-connection-bytes", a->per_connection_bytes,
                  "socket memory per connection for the net.ipv4.tcp_mem check (4K, 64K, ...)")
      ->capture_default_str()
      ->type_name("SIZE");
  auto* json = cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_flag("--sysctl-file", a->sysctl_file,
                "print a /etc/sysctl.d fragment that sets every sysctl not ok (changes nothing)")
      ->excludes(json);
  cmd->callback([a] { run_doctor(*a); });
}

}  // namespace zcnet::cli

// `zcnet doctor`: what this kernel allows and the limits that matter for zero-copy I/O.
#include <fmt/format.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "sysctl.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/selector.hpp"

namespace zcnet::cli {

namespace {

void run_doctor(bool json) {
  const Capabilities& c = Capabilities::probe();
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const Profile profile = [] {
    auto p = Profile::load(Profile::default_path());
    return p ? *p : Profile::defaults();
  }();
  nlohmann::json j{
      {"kernel", c.kernel},
      {"sendfile", c.sendfile},
      {"splice", c.splice},
      {"tee", c.tee},
      {"msg_zerocopy", c.msg_zerocopy},
      {"io_uring", c.io_uring},
      {"io_uring_send", c.uring_send},
      {"io_uring_send_zc", c.uring_send_zc},
      {"io_uring_splice", c.uring_splice},
      {"io_uring_fixed_buffers", c.uring_fixed_buffers},
      {"io_uring_loop", c.uring_loop},
      {"loop_backend", to_string(auto_backend())},
      {"pipe_max_bytes", c.pipe_max_bytes},
      {"optmem_max", read_sysctl("net.core.optmem_max")},
      // serve sets its own TCP_NOTSENT_LOWAT (--notsent-lowat); others inherit this
      {"tcp_notsent_lowat", read_sysctl("net.ipv4.tcp_notsent_lowat")},
      {"tcp_wmem", read_sysctl("net.ipv4.tcp_wmem")},
      {"tcp_rmem", read_sysctl("net.ipv4.tcp_rmem")},
      {"tcp_mem_pages", read_sysctl("net.ipv4.tcp_mem")},
      {"io_uring_disabled", read_sysctl("kernel.io_uring_disabled")},
      {"nofile_soft", nofile.rlim_cur},
      {"nofile_hard", nofile.rlim_max},
      {"profile_path", Profile::default_path()},
      {"profile",
       {{"local_sendfile_min_bytes", profile.local_sendfile_min_bytes},
        {"local_sendfile_max_bytes", profile.local_sendfile_max_bytes},
        {"local_mapped_max_bytes", profile.local_mapped_max_bytes},
        {"local_mmap_min_bytes", profile.local_mmap_min_bytes},
        {"remote_sendfile_min_bytes", profile.remote_sendfile_min_bytes},
        {"zerocopy_min_bytes", profile.zerocopy_min_bytes},
        {"server_local_sendfile_max_bytes", profile.server_local_sendfile_max_bytes}}}};
  if (json) {
    fmt::print("{}\n", j.dump(2));
    return;
  }
  for (auto& [key, value] : j.items())
    fmt::print("{:<24} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
}

}  // namespace

void add_doctor(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("doctor", "show kernel features and limits zcnet relies on");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([json] { run_doctor(*json); });
}

}  // namespace zcnet::cli

#include "doctor_system.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <sstream>
#include <thread>

#include "sysctl.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::cli::doctor {

namespace {

Reading sysctl_reading(std::string_view name) {
  auto numbers = read_sysctl_numbers(name);
  if (!numbers) return {.numbers = {}, .unavailable = numbers.error().message()};
  return {.numbers = std::move(*numbers), .unavailable = {}};
}

Rlimit rlimit_of(int resource) {
  rlimit l{};
  if (::getrlimit(resource, &l) != 0) return {};
  auto as_u64 = [](rlim_t v) { return v == RLIM_INFINITY ? kUnlimited : std::uint64_t{v}; };
  return {.soft = as_u64(l.rlim_cur), .hard = as_u64(l.rlim_max)};
}

bool socket_accepts(int fd, int level, int option, int value) {
  return ::setsockopt(fd, level, option, &value, sizeof value) == 0;
}

}  // namespace

LimitInputs read_limit_inputs(std::uint64_t connections, std::uint64_t per_connection_bytes) {
  LimitInputs in;
  in.connections = connections;
  in.per_connection_bytes = per_connection_bytes;
  if (long page = ::sysconf(_SC_PAGESIZE); page > 0)
    in.page_bytes = static_cast<std::uint64_t>(page);
  in.loops = std::max(1u, std::thread::hardware_concurrency());  // serve: one loop per core
  utsname u{};
  if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &in.kernel_major, &in.kernel_minor);
  in.zcnet = zcnet_sizes();
  in.nofile = rlimit_of(RLIMIT_NOFILE);
  in.memlock = rlimit_of(RLIMIT_MEMLOCK);
  in.nr_open = sysctl_reading("fs.nr_open");
  in.file_max = sysctl_reading("fs.file-max");
  in.somaxconn = sysctl_reading("net.core.somaxconn");
  in.tcp_max_syn_backlog = sysctl_reading("net.ipv4.tcp_max_syn_backlog");
  in.tcp_syncookies = sysctl_reading("net.ipv4.tcp_syncookies");
  in.tcp_max_tw_buckets = sysctl_reading("net.ipv4.tcp_max_tw_buckets");
  in.ip_local_port_range = sysctl_reading("net.ipv4.ip_local_port_range");
  in.max_map_count = sysctl_reading("vm.max_map_count");
  in.tcp_mem = sysctl_reading("net.ipv4.tcp_mem");
  in.netdev_max_backlog = sysctl_reading("net.core.netdev_max_backlog");
  in.pipe_max_size = sysctl_reading("fs.pipe-max-size");
  in.pipe_user_pages_soft = sysctl_reading("fs.pipe-user-pages-soft");
  in.pipe_user_pages_hard = sysctl_reading("fs.pipe-user-pages-hard");
  return in;
}

std::string io_uring_blocked_by(const Capabilities& caps, const nlohmann::json& disabled) {
  if (caps.io_uring) return "";
  const int err = caps.uring_setup_errno;
  if (err == 0) return "ZCNET_DISABLE (the kernel allows io_uring)";
  if (disabled.is_number() && disabled.get<int>() == 2)
    return "kernel.io_uring_disabled=2: io_uring is off for every process";
  if (disabled.is_number() && disabled.get<int>() == 1 && err == EPERM)
    return "kernel.io_uring_disabled=1: only CAP_SYS_ADMIN and kernel.io_uring_group may use it";
  if (err == EPERM || err == ENOSYS)
    return fmt::format(
        "{} from io_uring_setup: a seccomp filter (a container runtime's default "
        "profile) or a kernel built without io_uring",
        errno_name(err));
  return fmt::format("{} from io_uring_setup", errno_name(err));
}

KernelFeatures probe_kernel_features(const Capabilities& caps) {
  KernelFeatures f;
  if (UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); s) {
    f.tcp_cork = socket_accepts(s.get(), IPPROTO_TCP, TCP_CORK, 0);
    f.so_reuseport = socket_accepts(s.get(), SOL_SOCKET, SO_REUSEPORT, 1);
    f.tcp_notsent_lowat = socket_accepts(s.get(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, 128 * 1024);
  }
  // Read, not tried: setting TCP_ULP "tls" would load the tls module, and doctor changes nothing.
  f.tcp_available_ulp = nullptr;
  if (auto line = read_proc_line(sysctl_path("net.ipv4.tcp_available_ulp")); line) {
    f.tcp_available_ulp = nlohmann::json::array();
    std::istringstream words(*line);
    for (std::string w; words >> w;) {
      f.ktls = f.ktls || w == "tls";
      f.tcp_available_ulp.push_back(w);
    }
  }
  f.io_uring_disabled = sysctl_json("kernel.io_uring_disabled");
  const std::string blocked = io_uring_blocked_by(caps, f.io_uring_disabled);
  f.io_uring_blocked_by = blocked.empty() ? nlohmann::json(nullptr) : nlohmann::json(blocked);
  return f;
}

}  // namespace zcnet::cli::doctor

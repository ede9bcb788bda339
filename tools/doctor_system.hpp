// What `zcnet doctor` reads from this system: the limit checks' inputs and the kernel features
// beyond Capabilities. Every /proc read goes through proc_path(), so ZCNET_PROC_ROOT redirects it;
// nothing here changes the system (no module is loaded, no limit is set).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "doctor_limits.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet::cli::doctor {

// The limits as this process sees them, for `connections` of `per_connection_bytes` each.
LimitInputs read_limit_inputs(std::uint64_t connections, std::uint64_t per_connection_bytes);

struct KernelFeatures {
  bool tcp_cork = false;           // a TCP socket accepts TCP_CORK
  bool so_reuseport = false;       // ... SO_REUSEPORT
  bool tcp_notsent_lowat = false;  // ... TCP_NOTSENT_LOWAT
  // net.ipv4.tcp_available_ulp: the upper-layer protocols loaded now (null: unreadable).
  nlohmann::json tcp_available_ulp;
  bool ktls = false;  // "tls" is among them
  // kernel.io_uring_disabled: 0, 1 or 2 (null: no such sysctl, kernels before 6.6).
  nlohmann::json io_uring_disabled;
  // Why io_uring is off (null when it is on): the sysctl, seccomp, ZCNET_DISABLE, the kernel.
  nlohmann::json io_uring_blocked_by;
};
KernelFeatures probe_kernel_features(const Capabilities& caps);

// Why io_uring is off, from the probe's setup errno and kernel.io_uring_disabled (null: unknown);
// empty when it is on.
std::string io_uring_blocked_by(const Capabilities& caps, const nlohmann::json& io_uring_disabled);

}  // namespace zcnet::cli::doctor

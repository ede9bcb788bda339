// Kernel settings as `zcnet doctor` and the bench report's machine description show them.
#pragma once

#include <string>
#include <string_view>

namespace zcnet::cli {

// The first line of the sysctl `name` ("net.ipv4.tcp_mem": /proc/sys/net/ipv4/tcp_mem), or
// "unavailable" if it cannot be read here.
std::string read_sysctl(std::string_view name);

}  // namespace zcnet::cli

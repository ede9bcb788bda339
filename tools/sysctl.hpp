// Kernel settings as `zcnet doctor` and the bench report's machine description show them.
// Every /proc read of `zcnet doctor` goes through proc_path(), so tests can point it
// at a fake tree with ZCNET_PROC_ROOT.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "zcnet/sys/error.hpp"

namespace zcnet::cli {

// $ZCNET_PROC_ROOT, or "" (the real /proc and /sys). Read once per process.
const std::string& proc_root();
// `path` ("/proc/sys/fs/nr_open") beneath proc_root().
std::string proc_path(std::string_view path);
// "net.ipv4.tcp_mem" -> proc_path("/proc/sys/net/ipv4/tcp_mem").
std::string sysctl_path(std::string_view name);

// The first line of a /proc or /sys file (without its newline), or a typed error naming the errno
// and the file (ENOENT: the file does not exist on this kernel).
Result<std::string> read_proc_line(std::string_view path);
// The whitespace-separated integers of sysctl `name` ("net.ipv4.tcp_mem": three). EINVAL names the
// file when its text is not a list of integers.
Result<std::vector<std::int64_t>> read_sysctl_numbers(std::string_view name);
// The same as JSON: one number, an array of numbers (tcp_mem, tcp_rmem, ip_local_port_range), or
// null when it cannot be read here.
nlohmann::json sysctl_json(std::string_view name);

}  // namespace zcnet::cli

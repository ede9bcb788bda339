// The `zcnet` command's subcommands, each in its own file.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "zcnet/error.hpp"
#include "zcnet/fd.hpp"

namespace zcnet::cli {

void add_send(CLI::App& app);
void add_recv(CLI::App& app);
void add_doctor(CLI::App& app);

// "127.0.0.1:9000", "localhost:9000", "[::1]:9000" -> a connected / listening TCP socket.
Result<UniqueFd> connect_to(const std::string& host_port);
Result<UniqueFd> listen_on(const std::string& host_port, int backlog = 1024);
// Port a listening socket is bound to (for --listen HOST:0).
std::uint16_t local_port(int fd);

// CPU seconds (user, system) this process used so far.
struct CpuTimes {
  double user = 0, sys = 0;
};
CpuTimes cpu_now();

}  // namespace zcnet::cli

// The `zcnet` command's subcommands, each in its own file, and what they share.
#pragma once

#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::cli {

void add_send(CLI::App& app);
void add_recv(CLI::App& app);
void add_doctor(CLI::App& app);
void add_serve(CLI::App& app);
void add_load(CLI::App& app);
void add_bench(CLI::App& app);
void add_load_server(CLI::App& app);

// Errors end a command at its edge: main() prints e.what() (the Error's message) and exits 1.
[[noreturn]] inline void fail(const Error& e) {
  throw std::runtime_error(e.message());
}
template <class T>
T check(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}

// "127.0.0.1:9000", "localhost:9000", "[::1]:9000" -> a connected / listening TCP socket.
Result<UniqueFd> connect_to(const std::string& host_port);
Result<UniqueFd> listen_on(const std::string& host_port, int backlog = 1024);

// The addresses HOST:PORT resolves to, in getaddrinfo's order (for Loop::dial).
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
Result<std::vector<Address>> resolve(const std::string& host_port);

// `--backend epoll|uring|poll|auto` (default: $ZCNET_BACKEND, else the probe's choice).
void add_backend_option(CLI::App* cmd, std::string& backend);
// A loop on that backend; throws (naming the backend) if it cannot run here.
std::unique_ptr<Loop> create_loop(const std::string& backend);
// A strategy (not tee) or a concrete backend (not auto) by name; throws naming it if unknown.
StrategyKind strategy_named(const std::string& name);
BackendKind backend_named(const std::string& name);

}  // namespace zcnet::cli

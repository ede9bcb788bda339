// The `zcnet` command's subcommands, each in its own file, and what they share.
#pragma once

#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "options.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::cli {

void add_send(CLI::App& app);
void add_recv(CLI::App& app);
void add_doctor(CLI::App& app);
void add_serve(CLI::App& app);
void add_proxy(CLI::App& app);
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

// "127.0.0.1:9000", "localhost:9000", "[::1]:9000" -> a listening TCP socket.
Result<UniqueFd> listen_on(const std::string& host_port, int backlog = 1024);

// "ADDR:PORT" of a listening flag (`flag` names it in errors) -> an IP literal for listen_tcp
// ("*" or empty: every IPv4 address; "localhost": 127.0.0.1) and a port.
std::pair<std::string, std::uint16_t> split_listen(const std::string& s, std::string_view flag);

// The addresses HOST:PORT resolves to, in getaddrinfo's order (for Loop::dial).
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
Result<std::vector<Address>> resolve(const std::string& host_port);
// A nonblocking socket connected on `loop` to the first of `peers` that accepts (`name`: what
// errors call it, the HOST:PORT they came from).
Task<Result<UniqueFd>> dial_any(Loop& loop, const std::vector<Address>& peers,
                                const std::string& name, IoOptions io = {});

// A file opened for reading, and its size then.
struct InputFile {
  UniqueFd fd;
  std::uint64_t size = 0;
};
Result<InputFile> open_input(const std::string& path);

}  // namespace zcnet::cli

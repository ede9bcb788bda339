// `--backend`: which loop backend a command runs on.
#include <fmt/format.h>

#include "commands.hpp"

namespace zcnet::cli {

void add_backend_option(CLI::App* cmd, std::string& backend) {
  cmd->add_option("--backend", backend,
                  "event loop backend: epoll, uring, poll or auto (default: $ZCNET_BACKEND, "
                  "else io_uring when this kernel allows it, else epoll)")
      ->check(CLI::IsMember({"auto", "epoll", "uring", "io_uring", "poll"}));
}

std::unique_ptr<Loop> create_loop(const std::string& backend) {
  LoopOptions o;
  if (!backend.empty()) {
    auto kind = parse_backend(backend);
    if (!kind) throw std::runtime_error(fmt::format("unknown --backend '{}'", backend));
    o.backend = *kind;  // an explicit kind wins over $ZCNET_BACKEND
  }
  auto loop = Loop::create(o);
  if (!loop) {
    throw std::runtime_error(fmt::format("cannot start the {} loop: {}",
                                         backend.empty() ? "default" : backend,
                                         loop.error().message()));
  }
  return std::move(*loop);
}

StrategyKind strategy_named(const std::string& name) {
  auto k = parse_strategy(name);
  if (!k || *k == StrategyKind::Tee)
    throw std::runtime_error(fmt::format("unknown strategy '{}'", name));
  return *k;
}

BackendKind backend_named(const std::string& name) {
  auto k = parse_backend(name);
  if (!k || *k == BackendKind::Auto)
    throw std::runtime_error(fmt::format("unknown backend '{}' (epoll, uring, poll)", name));
  return *k;
}

}  // namespace zcnet::cli

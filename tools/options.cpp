#include "options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "sizes.hpp"

namespace zcnet::cli {

namespace {

// "read-write, mmap, ..., auto": every strategy a command may be given.
std::string strategy_names() {
  std::string out;
  for (int i = 0; i <= static_cast<int>(StrategyKind::Auto); ++i) {
    const auto k = static_cast<StrategyKind>(i);
    if (k == StrategyKind::Tee) continue;
    out += (out.empty() ? "" : ", ") + std::string(to_string(k));
  }
  return out;
}

constexpr std::string_view kAutoBackend =
    "$ZCNET_BACKEND, else io_uring when this kernel allows it, else epoll";

// A validator from a parser that throws std::runtime_error: its message is the validator's.
template <class F>
CLI::Validator checking(F parse, std::string description) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        try {
          parse(value);
        } catch (const std::runtime_error& e) {
          return e.what();
        }
        return {};
      },
      std::move(description));
}

}  // namespace

StrategyKind strategy_named(std::string_view name) {
  auto k = parse_strategy(name);
  if (!k || *k == StrategyKind::Tee)
    throw std::runtime_error(
        fmt::format("unknown strategy '{}' (valid: {})", name, strategy_names()));
  return *k;
}

BackendKind backend_named(std::string_view name, bool allow_auto) {
  auto k = parse_backend(name);
  if (!k || (*k == BackendKind::Auto && !allow_auto))
    throw std::runtime_error(fmt::format("unknown backend '{}' (valid: epoll, uring, poll{})", name,
                                         allow_auto ? ", auto" : ""));
  return *k;
}

CLI::Validator seconds_check(bool zero_allowed) {
  return checking(
      [zero_allowed](const std::string& s) {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        const bool number = !s.empty() && end == s.c_str() + s.size() && std::isfinite(v);
        if (!number || v < 0 || (v == 0 && !zero_allowed) || v > 1e9)
          throw std::runtime_error(
              fmt::format("'{}' is not a time: give a number of seconds {}, such as 30 or 2.5", s,
                          zero_allowed ? "from 0 up" : "above 0"));
      },
      zero_allowed ? "SECONDS>=0" : "SECONDS>0");
}

CLI::Validator count_check(std::uint64_t lo, std::uint64_t hi, std::string_view unit) {
  return checking(
      [lo, hi, unit = std::string(unit)](const std::string& s) {
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
          throw std::runtime_error(fmt::format(
              "'{}' is not a count of {}: give a whole number from {} to {}", s, unit, lo, hi));
      },
      fmt::format("{}..{}", lo, hi));
}

CLI::Validator strategy_check() {
  return checking([](const std::string& s) { strategy_named(s); }, "STRATEGY");
}

CLI::Validator strategy_list_check(bool all) {
  return checking(
      [all](const std::string& s) {
        if (all && s == "all") return;
        for (const auto& item : split_list(s)) strategy_named(item);
      },
      "STRATEGY,...");
}

CLI::Validator backend_check() {
  return checking([](const std::string& s) { backend_named(s); }, "BACKEND");
}

CLI::Validator backend_list_check() {
  return checking(
      [](const std::string& s) {
        for (const auto& item : split_list(s)) backend_named(item, false);
      },
      "BACKEND,...");
}

CLI::Option* add_strategy_option(CLI::App* cmd, std::string& strategy, std::string_view what) {
  return cmd
      ->add_option("--strategy", strategy,
                   fmt::format("strategy for {}: {} (default: {}; auto: the selector chooses)",
                               what, strategy_names(), strategy.empty() ? "auto" : strategy))
      ->check(strategy_check());
}

CLI::Option* add_backend_option(CLI::App* cmd, std::string& backend) {
  const std::string defaults = backend.empty()
                                   ? fmt::format("default: {}", kAutoBackend)
                                   : fmt::format("default: {}; auto: {}", backend, kAutoBackend);
  return cmd
      ->add_option("--backend", backend,
                   fmt::format("event loop backend: epoll, uring, poll or auto ({})", defaults))
      ->check(backend_check());
}

BackendKind backend_option_kind(const std::string& backend) {
  return backend.empty() ? BackendKind::Auto : backend_named(backend);
}

std::unique_ptr<Loop> create_loop(const std::string& backend) {
  LoopOptions o;
  o.backend = backend_option_kind(backend);  // an explicit kind wins over $ZCNET_BACKEND
  auto loop = Loop::create(o);
  if (!loop) {
    throw std::runtime_error(fmt::format("cannot start the {} loop: {}",
                                         backend.empty() ? "default" : backend,
                                         loop.error().message()));
  }
  return std::move(*loop);
}

}  // namespace zcnet::cli

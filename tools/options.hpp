// The options several commands share, each defined once: `--backend` (which event loop a command
// runs on) and `--strategy` (which way the engine moves bytes), with one parser per kind of name
// so that a bad name gets the same message from every command, flag or config file.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "zcnet/loop/loop.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::cli {

// The strategy `name` names: any but tee (which needs a mirror). Throws std::runtime_error
// "unknown strategy 'NAME' (valid: read-write, mmap, ..., auto)" otherwise.
StrategyKind strategy_named(std::string_view name);
// The backend `name` names: epoll, uring (io_uring), poll, and auto if `allow_auto`. Throws
// std::runtime_error "unknown backend 'NAME' (valid: epoll, uring, poll, auto)" otherwise.
BackendKind backend_named(std::string_view name, bool allow_auto = true);

// Validators for CLI11 that run those parsers: a bad name is a usage error, reported before the
// command starts. The list forms check every element of "a,b,c" (`all` also accepts "all").
CLI::Validator strategy_check();
CLI::Validator strategy_list_check(bool all = false);
CLI::Validator backend_check();
CLI::Validator backend_list_check();  // every element, auto refused (`zcnet bench --backends`)

// Numbers in human terms: "a number of seconds above 0, such as 30 or 2.5" rather than a range
// whose bound has 300 digits. `seconds_check(false)`: above 0; `(true)`: 0 or more.
// `count_check(lo, hi, unit)`: a whole number from lo to hi ("worker threads").
CLI::Validator seconds_check(bool zero_allowed);
CLI::Validator count_check(std::uint64_t lo, std::uint64_t hi, std::string_view unit);

// `--strategy NAME` into `strategy` (default: its current value, normally "auto"); `what` says
// what it applies to ("the file", "file bodies" ...).
CLI::Option* add_strategy_option(CLI::App* cmd, std::string& strategy, std::string_view what);

// `--backend epoll|uring|poll|auto` into `backend`. Empty (the usual default) means auto:
// $ZCNET_BACKEND, else io_uring when this kernel allows it, else epoll. A non-empty value on
// entry is the command's own default and the help says so.
CLI::Option* add_backend_option(CLI::App* cmd, std::string& backend);
// What a --backend value asks for ("" = auto).
BackendKind backend_option_kind(const std::string& backend);
// A loop on that backend; throws (naming the backend) if it cannot run here.
std::unique_ptr<Loop> create_loop(const std::string& backend);

}  // namespace zcnet::cli

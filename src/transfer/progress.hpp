// Private: what every strategy tracks (bytes taken from the source and delivered to the sink,
// against the limit) and the error contexts strategies report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sys/rw_posix.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/stats.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::detail {

struct Progress {
  std::optional<std::uint64_t> limit;  // nullopt: until the source ends
  std::uint64_t consumed = 0;          // taken from the source
  std::uint64_t delivered = 0;         // written to the sink

  // Most bytes the source may still give (kNoBudget when only EOF ends it).
  std::uint64_t left() const noexcept { return limit ? *limit - consumed : kNoBudget; }
  bool all_consumed() const noexcept { return limit && consumed >= *limit; }
  // The source ended early: it had a stated length and gave less.
  bool short_of_limit() const noexcept { return limit && consumed < *limit; }
};

// Bytes to move from a file source: its stated length, or what the file holds past the offset
// now. A stated length is kept even if the file is shorter (the caller promised those bytes, e.g.
// in a Content-Length), so a file truncated before or during the transfer ends in ENODATA.
// No fstat when the length is stated: a server knows it from its own metadata (a bad fd then
// fails at the first syscall, with the same EBADF).
Result<std::uint64_t> file_source_length(const FileRange& f);

// Bytes to move: ctx.limit if set (the Transfer fills it from file_source_length()); else a file
// source's file_source_length(), a memory source's span size, or nullopt (until EOF).
Result<std::optional<std::uint64_t>> resolve_limit(const Source& src, const StrategyContext& ctx);

// "file /tmp/x -> peer 127.0.0.1:1234". Error paths only: it makes syscalls.
std::string describe_pair(const Source& src, const Sink& dst);

// ENODATA: the source ended `got` bytes into a transfer of `limit`.
Error source_ended(std::string_view op, const Source& src, const Sink& dst, std::uint64_t got,
                   std::uint64_t limit);

// The file sink's byte position after `delivered` bytes, or nullopt for pipes and sockets.
std::optional<std::uint64_t> sink_offset(const Sink& dst, std::uint64_t delivered) noexcept;

// The syscall write_sink() makes for `dst`, for error messages: "pwrite", "send" or "write".
const char* write_sink_op(const Sink& dst) noexcept;

// One write of `len` bytes to the sink, `delivered` bytes into the transfer: pwrite at the file
// sink's offset, send (MSG_NOSIGNAL) to a socket, write to a pipe. Counts the syscall.
sys::IoResult write_sink(const Sink& dst, std::uint64_t delivered, const std::byte* buf,
                         std::size_t len, Stats& stats) noexcept;

// The stats a strategy adds to: ctx.stats, or `fallback` when the caller passed none.
inline Stats* stats_or(const StrategyContext& ctx, Stats& fallback) noexcept {
  return ctx.stats ? ctx.stats : &fallback;
}

}  // namespace zcnet::detail

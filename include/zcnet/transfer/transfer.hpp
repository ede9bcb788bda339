// A transfer: one source-to-sink job with its Choice and its Stats.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/pool/mapping_cache.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/selector.hpp"
#include "zcnet/transfer/stats.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {

struct EngineOptions {
  PoolOptions pool;
  MappingCacheOptions mappings;  // whole-file mappings the mmap strategy reuses
  std::size_t pipe_bytes = 1024 * 1024;
  std::optional<Capabilities> caps;  // default: Capabilities::probe()
  std::optional<Profile> profile;    // default: Profile::default_path() if present, else defaults
};

// What transfers on one thread share: capabilities, the selector, the buffer and pipe pools, the
// mapping cache. Not thread-safe as a whole: one Engine per thread (the pools themselves are
// thread-safe; the mapping cache is not).
class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  const Capabilities& caps() const noexcept { return caps_; }
  const Selector& selector() const noexcept { return selector_; }
  BufferPool& buffers() noexcept { return buffers_; }
  PipePool& pipes() noexcept { return pipes_; }
  MappingCache& mappings() noexcept { return mappings_; }

 private:
  Capabilities caps_;
  Selector selector_;
  BufferPool buffers_;
  PipePool pipes_;
  MappingCache mappings_;
};

struct TransferOptions {
  StrategyKind strategy = StrategyKind::Auto;  // force one (it may still fall back if unable)
  bool allow_fallback = true;                  // false: a forced strategy that cannot run fails
  std::optional<std::uint64_t> limit;          // bytes to move from a socket/pipe source
  std::size_t chunk_bytes = 256 * 1024;
  // Sent before the body and corked with it (MSG_MORE, like nginx's tcp_nopush), so a header and
  // a sendfile body leave in full segments with no Nagle/delayed-ACK stall. Caller keeps it alive.
  std::span<const std::byte> header;
  std::optional<Sink> mirror;  // tee: a second sink that receives every byte
  // A choice the caller made with the engine's rules and what it already knows of the endpoints
  // (Selector::choose_file_to_socket: a server knows its peer per connection, and its mode).
  // Taken as it is when `strategy` is Auto, so choosing costs no getpeername or fcntl.
  std::optional<Choice> choice;
};

class Transfer {
 public:
  Transfer(Engine& engine, Source src, Sink dst, TransferOptions options = {});
  Transfer(Transfer&&) noexcept;
  Transfer& operator=(Transfer&&) noexcept;
  ~Transfer();

  // One step of the chosen strategy (see Strategy::step). Falls back to the next strategy when
  // the current one reports handled == false, recording why in choice().reason.
  Outcome step(std::uint64_t budget = kNoBudget);
  bool done() const noexcept;
  const Choice& choice() const noexcept;
  const Stats& stats() const noexcept;
  // Time the driver (the loop, run_blocking) spent waiting for readiness on a step's behalf.
  void add_wait_time(std::chrono::nanoseconds d) noexcept;

  struct State;  // defined in transfer.cpp

 private:
  std::unique_ptr<State> state_;  // one allocation per transfer: keeps Stats at a stable address
};

// Drives a transfer to its end on the calling thread, poll()ing whatever a step waits on.
// ETIMEDOUT if a wait sees no readiness for `idle_timeout_ms` (-1: wait forever).
Result<Stats> run_blocking(Transfer& transfer, int idle_timeout_ms = -1);

}  // namespace zcnet

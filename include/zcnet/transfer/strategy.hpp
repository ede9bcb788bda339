// A strategy is one way to move bytes between two endpoint kinds. It is loop-agnostic
// (docs/architecture.md, invariant 1): it performs syscalls on the fds it was given and reports
// progress, what it would block on, done, or a typed error. Loops drive strategies; strategies
// never own a loop.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/readiness.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/stats.hpp"

namespace zcnet {

enum class StrategyKind : std::uint8_t {
  ReadWrite,
  Mmap,
  Sendfile,
  Splice,
  Tee,
  MsgZerocopy,
  UringSend,
  UringSendZc,
  UringSplice,
  Auto,
};

std::string_view to_string(StrategyKind k) noexcept;  // "read-write", "uring-send-zc", ...
std::optional<StrategyKind> parse_strategy(std::string_view name) noexcept;

struct Capabilities;
// Whether this kernel (as probed, less what ZCNET_DISABLE turned off) lets `k` run.
bool allows(const Capabilities& caps, StrategyKind k) noexcept;
// A copy with what `k` needs turned off (tests use it to force every fallback path). Read-write
// and mmap are the floor and stay.
Capabilities without(Capabilities caps, StrategyKind k) noexcept;

struct Outcome {
  std::uint64_t bytes = 0;  // bytes delivered to the sink during this step
  // false: this strategy consumed nothing and cannot do this transfer (error says why: EINVAL,
  // ENOSYS, EOPNOTSUPP ...); the caller may try the next strategy with nothing lost.
  bool handled = true;
  bool done = false;           // every byte delivered and every kernel completion collected
  std::optional<Wait> wait;    // set when the step stopped because an fd would block
  std::optional<Error> error;  // set on failure (with handled == true: the transfer is over)
};

inline constexpr std::uint64_t kNoBudget = std::numeric_limits<std::uint64_t>::max();

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual StrategyKind kind() const noexcept = 0;
  // Moves bytes until done, an fd would block, an error, or about `budget` bytes moved (a loop
  // passes a budget to keep many connections fair). Adds what it did to the stats it was given.
  virtual Outcome step(std::uint64_t budget = kNoBudget) = 0;
};

class BufferPool;
class PipePool;
class MappingCache;

// What a strategy may use besides its endpoints. All pointers outlive the strategy.
struct StrategyContext {
  Stats* stats = nullptr;
  BufferPool* buffers = nullptr;
  PipePool* pipes = nullptr;
  const Capabilities* caps = nullptr;
  // mmap only: whole-file mappings kept across transfers (nullptr = map in windows per transfer).
  MappingCache* mappings = nullptr;
  // Bytes to move; nullopt = until the source ends (EOF). For a FileRange source the Transfer fills
  // it from the range length or fstat, so a short source (truncated file) is detected as ENODATA.
  std::optional<std::uint64_t> limit;
  // Bytes per chunk for buffer-based strategies (read-write, msg-zerocopy, uring-*).
  std::size_t chunk_bytes = 256 * 1024;
  // Tee only: the mirror that receives a copy of every byte (a pipe or socket; nullopt = none).
  std::optional<Sink> mirror;
};

// Builds `kind` for this pair, or EOPNOTSUPP if the kind cannot move bytes between these
// endpoints (or the kernel lacks what it needs). Never returns for kind == Auto.
Result<std::unique_ptr<Strategy>> make_strategy(StrategyKind kind, const Source& src,
                                                const Sink& dst, const StrategyContext& ctx);

}  // namespace zcnet

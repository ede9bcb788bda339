// Pooled pipes for splice and tee. Invariant: a pipe that still holds data is never pooled; its
// lease closes it instead, so no later transfer can read another's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet {

class PipePool;

class PipeLease {
 public:
  PipeLease() = default;
  PipeLease(PipeLease&& other) noexcept;
  PipeLease& operator=(PipeLease&& other) noexcept;
  PipeLease(const PipeLease&) = delete;
  PipeLease& operator=(const PipeLease&) = delete;
  ~PipeLease();

  explicit operator bool() const noexcept { return static_cast<bool>(read_); }
  int read_fd() const noexcept { return read_.get(); }
  int write_fd() const noexcept { return write_.get(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // Bytes spliced in and not yet out, kept by the user of the lease: filled(n) after a splice into
  // the pipe, drained(n) after a splice out of it.
  std::size_t buffered() const noexcept { return buffered_; }
  void filled(std::size_t n) noexcept { buffered_ += n; }
  void drained(std::size_t n) noexcept { buffered_ -= n; }

 private:
  friend class PipePool;
  PipePool* pool_ = nullptr;
  UniqueFd read_;
  UniqueFd write_;
  std::size_t capacity_ = 0;
  std::size_t buffered_ = 0;
};

struct PipePoolStats {
  std::uint64_t created = 0;
  std::uint64_t reused = 0;
  std::uint64_t discarded_nonempty = 0;  // leases returned holding data: closed, not pooled
  std::uint64_t refused = 0;             // acquires beyond max_leased (ENOBUFS)
  std::size_t idle = 0;
  std::size_t leased = 0;  // pipes out on lease now
};

class PipePool {
 public:
  // Pipes are sized with F_SETPIPE_SZ to `pipe_bytes` (clamped to what the kernel allows). At
  // most `max_leased` are out at once (HAProxy's maxpipes): beyond it acquire() fails with
  // ENOBUFS, and the caller copies instead.
  explicit PipePool(std::size_t pipe_bytes = 1024 * 1024, std::size_t max_idle = 64,
                    std::size_t max_leased = std::numeric_limits<std::size_t>::max());
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // O_NONBLOCK on both ends: splice to/from the pipe never blocks; the other fd's mode decides.
  // ENOBUFS when max_leased pipes are out; pipe2's errno (EMFILE, ENFILE) when none can be made.
  Result<PipeLease> acquire();
  PipePoolStats stats() const;
  std::size_t pipe_bytes() const noexcept { return pipe_bytes_; }

 private:
  friend class PipeLease;
  void give_back(PipeLease& lease) noexcept;

  std::size_t pipe_bytes_;
  std::size_t max_idle_;
  std::size_t max_leased_;
  mutable std::mutex mu_;  // taken once per acquire/release, never per byte
  std::vector<PipeLease> idle_;
  PipePoolStats stats_;
};

}  // namespace zcnet

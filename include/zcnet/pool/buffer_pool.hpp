// Buffer pool: size classes, pre-allocated slabs, move-only handles, and buffers held while the
// kernel still reads them (docs/architecture.md, invariant 3).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "zcnet/sys/error.hpp"

struct io_uring;

namespace zcnet {

enum class ExhaustionPolicy : std::uint8_t {
  Fail,  // acquire() returns ENOBUFS at once
  Wait,  // acquire() waits up to `wait_timeout` for a release, then ENOBUFS
  Grow,  // allocate more buffers up to `max_buffers_per_class`, then ENOBUFS
};

struct PoolOptions {
  std::vector<std::size_t> class_sizes{4096, 65536, 256 * 1024, 1024 * 1024};
  std::size_t buffers_per_class = 8;       // pre-allocated at construction
  std::size_t max_buffers_per_class = 64;  // cap for ExhaustionPolicy::Grow
  ExhaustionPolicy policy = ExhaustionPolicy::Grow;
  std::chrono::milliseconds wait_timeout{1000};
};

struct PoolStats {
  std::size_t buffers = 0;         // allocated now (all classes)
  std::size_t in_use = 0;          // held by a handle or by the kernel
  std::size_t high_water = 0;      // most ever in use at once
  std::size_t lent_to_kernel = 0;  // waiting for a zero-copy completion
  std::uint64_t acquires = 0;
  std::uint64_t waits = 0;     // acquires that had to wait
  std::uint64_t failures = 0;  // acquires that ended in ENOBUFS
};

class BufferPool;

// A pool buffer. Move-only; destroying it returns the buffer to the pool, unless the kernel still
// holds it (lend_to_kernel() without its kernel_done()), in which case the buffer goes back only
// when the last kernel_done() arrives.
class PoolBuffer {
 public:
  PoolBuffer() = default;
  PoolBuffer(PoolBuffer&& other) noexcept;
  PoolBuffer& operator=(PoolBuffer&& other) noexcept;
  PoolBuffer(const PoolBuffer&) = delete;
  PoolBuffer& operator=(const PoolBuffer&) = delete;
  ~PoolBuffer();

  explicit operator bool() const noexcept { return slot_ != nullptr; }
  std::span<std::byte> span() const noexcept;
  std::byte* data() const noexcept;
  std::size_t capacity() const noexcept;
  // Index in the io_uring fixed-buffer table, or -1 if this buffer is not registered.
  int registered_index() const noexcept;

  // Invariant: every lend_to_kernel() is matched by exactly one kernel_done(), called when the
  // kernel's completion notification for that send arrives (never on the send's own result).
  void lend_to_kernel() noexcept;
  void kernel_done() noexcept;
  std::uint32_t lent() const noexcept;

 private:
  friend class BufferPool;
  struct Slot;
  PoolBuffer(BufferPool* pool, Slot* slot) noexcept : pool_(pool), slot_(slot) {}
  BufferPool* pool_ = nullptr;
  Slot* slot_ = nullptr;
};

class BufferPool {
 public:
  explicit BufferPool(PoolOptions options = {});
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `bytes` (the smallest class that fits; the largest class if none does).
  Result<PoolBuffer> acquire(std::size_t bytes);
  PoolStats stats() const;
  const PoolOptions& options() const noexcept { return options_; }

  // Registers every pre-allocated buffer with `ring` as fixed buffers (one table per ring).
  // Buffers grown later are not registered (registered_index() == -1).
  Result<void> register_with(io_uring* ring);

 private:
  friend class PoolBuffer;
  struct Class;
  void release(PoolBuffer::Slot* slot) noexcept;
  void kernel_done(PoolBuffer::Slot* slot) noexcept;

  PoolOptions options_;
  // The lock guards the free lists only; it is taken once per acquire/release (per chunk, not per
  // byte), which a per-thread pool would make uncontended.
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::size_t waiting_ = 0;  // acquires blocked on released_: a release signals only if any
  std::vector<std::unique_ptr<Class>> classes_;
  PoolStats stats_;
};

}  // namespace zcnet

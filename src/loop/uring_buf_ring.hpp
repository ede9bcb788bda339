// Private: a provided-buffer ring for multishot recv, set up by hand (liburing 2.3 has no
// io_uring_setup_buf_ring). The kernel picks a buffer per completion and names it in the CQE;
// the buffer is ours until we add it back to the ring.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "zcnet/sys/error.hpp"

namespace zcnet::detail {

class UringBufRing {
 public:
  static constexpr std::uint16_t kGroup = 0;

  UringBufRing() = default;
  UringBufRing(const UringBufRing&) = delete;
  UringBufRing& operator=(const UringBufRing&) = delete;
  ~UringBufRing();

  // Registers `count` (rounded up to a power of two, at most 32768) buffers of `bytes` each with
  // `ring` as group kGroup, all of them handed to the kernel.
  Result<void> setup(io_uring* ring, std::size_t count, std::size_t bytes);
  bool ready() const noexcept { return ring_ != nullptr; }
  std::byte* data(std::uint32_t id) const noexcept { return bufs_ + id * bytes_; }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t count() const noexcept { return entries_; }
  // Hands buffer `id` back to the kernel. SAFETY: the caller no longer reads it.
  void recycle(std::uint32_t id) noexcept;

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::byte* bufs_ = nullptr;
  std::size_t bufs_bytes_ = 0;
  std::size_t bytes_ = 0;
  unsigned entries_ = 0;
};

}  // namespace zcnet::detail

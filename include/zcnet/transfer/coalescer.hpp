// Small-write coalescing: many small messages leave in one writev/sendmsg, flushed by size or
// explicitly; MSG_MORE or TCP_CORK keeps a partial segment back while more is known to follow.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <vector>

#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/transfer/stats.hpp"

namespace zcnet {

struct CoalescerOptions {
  std::size_t flush_bytes = 16 * 1024;  // append() flushes once this much is gathered
  std::size_t max_iovecs = 64;          // ... or this many pieces (IOV_MAX is 1024)
};

class Coalescer {
 public:
  Coalescer(int fd, BufferPool& pool, CoalescerOptions options = {});

  // Copies `bytes` into a pool buffer (small messages: one memcpy beats one syscall).
  Result<void> append(std::span<const std::byte> bytes);
  // References `bytes` without a copy; the caller keeps them alive until flush() returns.
  Result<void> append_ref(std::span<const std::byte> bytes);
  // Writes everything gathered. `more`: more data follows soon (MSG_MORE on sockets).
  // Blocks on a blocking fd; on a nonblocking fd returns EAGAIN with the unsent rest kept.
  Result<void> flush(bool more = false);
  std::size_t pending() const noexcept { return pending_; }
  const Stats& stats() const noexcept { return stats_; }

 private:
  int fd_;
  BufferPool* pool_;
  CoalescerOptions options_;
  PoolBuffer copy_buf_;
  std::size_t copy_used_ = 0;
  std::vector<iovec> iov_;
  std::size_t pending_ = 0;
  bool is_socket_ = false;
  Stats stats_;
};

// TCP_CORK held for the guard's lifetime (nginx tcp_nopush): full segments only until uncorked.
class Cork {
 public:
  explicit Cork(int socket_fd) noexcept;
  ~Cork();
  Cork(const Cork&) = delete;
  Cork& operator=(const Cork&) = delete;

 private:
  int fd_;
  bool corked_;
};

}  // namespace zcnet

// io_uring: a move-only ring (RAII around io_uring_queue_init / io_uring_queue_exit) and opcode
// probes. Helpers return a negative errno (liburing style).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

namespace zcnet::sys {

// IORING_SEND_ZC_REPORT_USAGE / IORING_NOTIF_USAGE_ZC_COPIED (kernel 6.2) are missing from
// liburing 2.3's copy of the uapi header: with the flag, a send_zc notification's res carries
// the copied bit when the kernel copied the data after all (always on loopback).
inline constexpr unsigned kSendZcReportUsage = 1U << 3;
inline constexpr unsigned kNotifUsageZcCopied = 1U << 31;

class UringRing {
 public:
  UringRing() = default;
  UringRing(UringRing&&) noexcept = default;
  UringRing& operator=(UringRing&& other) noexcept;
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;
  ~UringRing();

  // 0 or -errno: EPERM (kernel.io_uring_disabled), ENOSYS (seccomp / old kernel), ENOMEM.
  int init(unsigned entries, unsigned flags = 0) noexcept;
  // The same with setup parameters (flags, CQ size); `params` gets the kernel's answer.
  int init(unsigned entries, io_uring_params& params) noexcept;

  explicit operator bool() const noexcept { return ring_ != nullptr; }
  io_uring* get() const noexcept { return ring_.get(); }
  // Readable (poll/epoll) when completions are waiting in the CQ ring.
  int fd() const noexcept { return ring_ ? ring_->ring_fd : -1; }

  // io_uring_submit, again after EINTR or EAGAIN; each io_uring_enter is added to `syscalls`.
  // The number submitted, or -errno when the kernel refused the entries (none reached it).
  int submit(std::uint64_t& syscalls) noexcept;
  // Asks the kernel to cancel everything in flight on this ring; the cancel's own completion
  // carries user_data 0. Best effort: with the submission queue full it does nothing.
  void cancel_all() noexcept;
  // Blocks until a completion is posted or `ns` nanoseconds pass.
  void wait_for_completion(long long ns) noexcept;
  // Calls fn(cqe) for every completion posted now, then hands their slots back to the kernel.
  // fn must not submit (a handler that does copies what it needs out first).
  template <class Fn>
  unsigned for_each_completion(Fn&& fn) {
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      ++seen;
      fn(*cqe);
    }
    io_uring_cq_advance(ring_.get(), seen);
    return seen;
  }

 private:
  void reset() noexcept;
  std::unique_ptr<io_uring> ring_;  // heap: the address handed to the kernel helpers stays put
};

// Rings borrowed for one transfer each come from a small per-thread cache of idle rings, so a
// transfer pays neither io_uring_queue_init (a syscall and three mmaps) nor queue_exit.
// take_ring: a cached ring made with `entries`, else a new one (rc = 0 or -errno as init()).
UringRing take_ring(unsigned entries, int& rc) noexcept;
// give_back_ring: Invariant: nothing may be in flight on `ring` and no buffers registered with
// it. A ring with unreaped completions or unsubmitted entries is closed instead of cached.
void give_back_ring(UringRing ring, unsigned entries) noexcept;

}  // namespace zcnet::sys

#include "sys/uring_linux.hpp"

#include <cerrno>
#include <new>
#include <utility>
#include <vector>

namespace zcnet::sys {

UringRing& UringRing::operator=(UringRing&& other) noexcept {
  if (this != &other) {
    reset();
    ring_ = std::move(other.ring_);
  }
  return *this;
}

UringRing::~UringRing() {
  reset();
}

void UringRing::reset() noexcept {
  if (ring_) io_uring_queue_exit(ring_.get());
  ring_.reset();
}

int UringRing::init(unsigned entries, unsigned flags) noexcept {
  io_uring_params params{};
  params.flags = flags;
  return init(entries, params);
}

int UringRing::init(unsigned entries, io_uring_params& params) noexcept {
  reset();
  auto ring = std::unique_ptr<io_uring>(new (std::nothrow) io_uring{});
  if (!ring) return -ENOMEM;
  if (int rc = io_uring_queue_init_params(entries, ring.get(), &params); rc < 0) return rc;
  ring_ = std::move(ring);
  return 0;
}

int UringRing::submit(std::uint64_t& syscalls) noexcept {
  for (;;) {
    ++syscalls;
    const int rc = io_uring_submit(ring_.get());
    if (rc >= 0 || (rc != -EINTR && rc != -EAGAIN)) return rc;
  }
}

void UringRing::cancel_all() noexcept {
  if (io_uring_sqe* sqe = io_uring_get_sqe(ring_.get())) {
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, 0);
    io_uring_submit(ring_.get());
  }
}

void UringRing::wait_for_completion(long long ns) noexcept {
  __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
  io_uring_cqe* cqe = nullptr;
  io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts);
}

namespace {

constexpr std::size_t kCachedRings = 16;  // per thread; each costs an fd and a few pages

struct CachedRing {
  unsigned entries;
  UringRing ring;
};

std::vector<CachedRing>& ring_cache() noexcept {
  thread_local std::vector<CachedRing> cache;
  return cache;
}

}  // namespace

UringRing take_ring(unsigned entries, int& rc) noexcept {
  auto& cache = ring_cache();
  for (auto it = cache.rbegin(); it != cache.rend(); ++it) {
    if (it->entries != entries) continue;
    UringRing ring = std::move(it->ring);
    cache.erase(std::next(it).base());
    rc = 0;
    return ring;
  }
  UringRing ring;
  rc = ring.init(entries);
  return ring;
}

void give_back_ring(UringRing ring, unsigned entries) noexcept {
  if (!ring) return;
  io_uring* r = ring.get();
  if (io_uring_cq_ready(r) != 0 || io_uring_sq_ready(r) != 0) return;  // closes it
  auto& cache = ring_cache();
  if (cache.size() >= kCachedRings) return;
  try {
    cache.push_back(CachedRing{entries, std::move(ring)});
  } catch (...) {  // out of memory: the ring just closes
  }
}

}  // namespace zcnet::sys

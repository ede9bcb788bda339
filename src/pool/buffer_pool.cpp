#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "pool/buffer_pool_impl.hpp"

namespace zcnet {

namespace {
constexpr std::size_t kAlign = 4096;  // page-aligned: O_DIRECT, io_uring registration, MSG_ZEROCOPY

std::byte* alloc_aligned(std::size_t bytes) {
  return static_cast<std::byte*>(
      std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign));
}
}  // namespace

// ---- PoolBuffer ----

PoolBuffer::PoolBuffer(PoolBuffer&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), slot_(std::exchange(other.slot_, nullptr)) {}

PoolBuffer& PoolBuffer::operator=(PoolBuffer&& other) noexcept {
  if (this != &other) {
    if (slot_) pool_->release(slot_);
    pool_ = std::exchange(other.pool_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

PoolBuffer::~PoolBuffer() {
  if (slot_) pool_->release(slot_);
}

std::span<std::byte> PoolBuffer::span() const noexcept {
  return slot_ ? std::span<std::byte>(slot_->data, slot_->capacity) : std::span<std::byte>{};
}
std::byte* PoolBuffer::data() const noexcept {
  return slot_ ? slot_->data : nullptr;
}
std::size_t PoolBuffer::capacity() const noexcept {
  return slot_ ? slot_->capacity : 0;
}
int PoolBuffer::registered_index() const noexcept {
  return slot_ ? slot_->registered_index : -1;
}
std::uint32_t PoolBuffer::lent() const noexcept {
  return slot_ ? slot_->lent.load(std::memory_order_acquire) : 0;
}

void PoolBuffer::lend_to_kernel() noexcept {
  slot_->lent.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard lock(pool_->mu_);
  ++pool_->stats_.lent_to_kernel;
}

void PoolBuffer::kernel_done() noexcept {
  pool_->kernel_done(slot_);
}

// ---- BufferPool ----

BufferPool::BufferPool(PoolOptions options) : options_(std::move(options)) {
  if (options_.class_sizes.empty()) options_.class_sizes = PoolOptions{}.class_sizes;
  std::sort(options_.class_sizes.begin(), options_.class_sizes.end());
  options_.max_buffers_per_class =
      std::max(options_.max_buffers_per_class, options_.buffers_per_class);
  for (std::size_t size : options_.class_sizes) {
    auto cls = std::make_unique<Class>();
    cls->size = size;
    std::size_t n = options_.buffers_per_class;
    if (n > 0) cls->slab = {alloc_aligned(size * n), std::free};
    for (std::size_t i = 0; i < n; ++i) {
      auto slot = std::make_unique<PoolBuffer::Slot>();
      slot->data = cls->slab.get() + i * size;
      slot->capacity = size;
      slot->cls = cls.get();
      slot->preallocated = true;
      cls->free.push_back(slot.get());
      cls->slots.push_back(std::move(slot));
    }
    stats_.buffers += n;
    classes_.push_back(std::move(cls));
  }
}

BufferPool::~BufferPool() = default;

Result<PoolBuffer> BufferPool::acquire(std::size_t bytes) {
  auto it = std::find_if(classes_.begin(), classes_.end(),
                         [&](const auto& c) { return c->size >= bytes; });
  Class& cls = it != classes_.end() ? **it : *classes_.back();

  std::unique_lock lock(mu_);
  ++stats_.acquires;
  if (cls.free.empty() && options_.policy == ExhaustionPolicy::Grow &&
      cls.slots.size() < options_.max_buffers_per_class) {
    auto slot = std::make_unique<PoolBuffer::Slot>();
    cls.grown.push_back({alloc_aligned(cls.size), std::free});
    slot->data = cls.grown.back().get();
    slot->capacity = cls.size;
    slot->cls = &cls;
    cls.free.push_back(slot.get());
    cls.slots.push_back(std::move(slot));
    ++stats_.buffers;
  }
  if (cls.free.empty() && options_.policy == ExhaustionPolicy::Wait) {
    ++stats_.waits;
    ++waiting_;
    released_.wait_for(lock, options_.wait_timeout, [&] { return !cls.free.empty(); });
    --waiting_;
  }
  if (cls.free.empty()) {
    ++stats_.failures;
    return Error(ENOBUFS, "pool acquire",
                 fmt::format("all {} buffers of {} B in use ({} lent to the kernel)",
                             cls.slots.size(), cls.size, stats_.lent_to_kernel));
  }
  PoolBuffer::Slot* slot = cls.free.back();
  cls.free.pop_back();
  slot->handle_alive = true;
  ++stats_.in_use;
  stats_.high_water = std::max(stats_.high_water, stats_.in_use);
  return PoolBuffer(this, slot);
}

void BufferPool::release(PoolBuffer::Slot* slot) noexcept {
  std::lock_guard lock(mu_);
  slot->handle_alive = false;
  // Invariant: a buffer the kernel still reads stays out of the free list; the last
  // kernel_done() puts it back. Without one (the sender gave up) it stays out until the pool dies.
  if (slot->lent.load(std::memory_order_acquire) == 0) {
    slot->cls->free.push_back(slot);
    --stats_.in_use;
    if (waiting_ > 0) released_.notify_one();
  }
}

void BufferPool::kernel_done(PoolBuffer::Slot* slot) noexcept {
  std::lock_guard lock(mu_);
  --stats_.lent_to_kernel;
  if (slot->lent.fetch_sub(1, std::memory_order_acq_rel) == 1 && !slot->handle_alive) {
    slot->cls->free.push_back(slot);
    --stats_.in_use;
    if (waiting_ > 0) released_.notify_one();
  }
}

PoolStats BufferPool::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace zcnet

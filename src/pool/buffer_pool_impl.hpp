// Private layout of the buffer pool, shared by buffer_pool.cpp and the io_uring registration file.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "zcnet/pool/buffer_pool.hpp"

namespace zcnet {

struct PoolBuffer::Slot {
  std::byte* data = nullptr;
  std::size_t capacity = 0;
  BufferPool::Class* cls = nullptr;
  std::atomic<std::uint32_t> lent{0};  // sends the kernel has not yet released
  bool handle_alive = false;           // guarded by the pool's mutex
  bool preallocated = false;
  int registered_index = -1;
};

struct BufferPool::Class {
  std::size_t size = 0;
  // Pre-allocated buffers live in one page-aligned slab; grown ones are allocated one by one.
  std::unique_ptr<std::byte, void (*)(void*)> slab{nullptr, nullptr};
  std::vector<std::unique_ptr<PoolBuffer::Slot>> slots;
  std::vector<std::unique_ptr<std::byte, void (*)(void*)>> grown;
  std::vector<PoolBuffer::Slot*> free;
};

}  // namespace zcnet

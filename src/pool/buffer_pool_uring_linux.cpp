// Registration of the pool's pre-allocated buffers as io_uring fixed buffers.
#include <liburing.h>

#include <vector>

#include "pool/buffer_pool_impl.hpp"

namespace zcnet {

Result<void> BufferPool::register_with(io_uring* ring) {
  std::lock_guard lock(mu_);
  std::vector<iovec> iov;
  std::vector<PoolBuffer::Slot*> order;
  for (auto& cls : classes_) {
    for (auto& slot : cls->slots) {
      if (!slot->preallocated) continue;
      iov.push_back({slot->data, slot->capacity});
      order.push_back(slot.get());
    }
  }
  if (iov.empty()) return Error(EINVAL, "io_uring_register_buffers", "pool has no buffers");
  // The table order is fixed by construction, so every ring sees the same index per buffer.
  int rc = io_uring_register_buffers(ring, iov.data(), static_cast<unsigned>(iov.size()));
  if (rc < 0) return Error(-rc, "io_uring_register_buffers", "buffer pool");
  for (std::size_t i = 0; i < order.size(); ++i) order[i]->registered_index = static_cast<int>(i);
  return {};
}

}  // namespace zcnet

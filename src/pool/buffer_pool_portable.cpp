#include <cerrno>

#include "zcnet/pool/buffer_pool.hpp"

namespace zcnet {

Result<void> BufferPool::register_with(io_uring*) {
  return Error(EOPNOTSUPP, "io_uring_register_buffers", "portable build has no io_uring");
}

}  // namespace zcnet

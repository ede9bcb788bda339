#include <sys/mman.h>

#include <cerrno>
#include <string>

#include "loop/uring_buf_ring.hpp"

namespace zcnet::detail {

Result<void> UringBufRing::setup(io_uring* ring, std::size_t count, std::size_t bytes) {
  unsigned entries = 1;
  while (entries < count && entries < 32768) entries <<= 1;
  ring_bytes_ = entries * sizeof(io_uring_buf);
  void* r =
      ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) return last_error("mmap", "buffer ring");
  br_ = static_cast<io_uring_buf_ring*>(r);
  bufs_bytes_ = entries * bytes;
  void* b =
      ::mmap(nullptr, bufs_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) {
    auto e = last_error("mmap", "recv buffers");
    ::munmap(br_, ring_bytes_);
    br_ = nullptr;
    return e;
  }
  bufs_ = static_cast<std::byte*>(b);
  bytes_ = bytes;
  entries_ = entries;

  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = entries;
  reg.bgid = kGroup;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    ::munmap(bufs_, bufs_bytes_);
    ::munmap(br_, ring_bytes_);
    bufs_ = nullptr;
    br_ = nullptr;
    return Error(-rc, "io_uring_register_buf_ring", std::to_string(entries) + " entries");
  }
  ring_ = ring;
  int mask = io_uring_buf_ring_mask(entries);
  for (unsigned i = 0; i < entries; ++i)
    io_uring_buf_ring_add(br_, data(i), static_cast<unsigned>(bytes),
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  io_uring_buf_ring_advance(br_, static_cast<int>(entries));
  return {};
}

void UringBufRing::recycle(std::uint32_t id) noexcept {
  io_uring_buf_ring_add(br_, data(id), static_cast<unsigned>(bytes_),
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(entries_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

UringBufRing::~UringBufRing() {
  if (ring_) io_uring_unregister_buf_ring(ring_, kGroup);
  if (bufs_) ::munmap(bufs_, bufs_bytes_);
  if (br_) ::munmap(br_, ring_bytes_);
}

}  // namespace zcnet::detail

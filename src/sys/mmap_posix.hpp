// Private: a read-only shared mapping of a file range, owned by a move-only handle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "zcnet/sys/error.hpp"

namespace zcnet::sys {

class Mapping {
 public:
  // Maps [offset, offset + length) of `fd` PROT_READ, MAP_SHARED (offset need not be
  // page-aligned: data() points at `offset`). The range may run past the file's end: touching
  // such a page from user space raises SIGBUS, so only hand the bytes to the kernel.
  static Result<Mapping> map_read(int fd, std::uint64_t offset, std::size_t length);

  Mapping() = default;
  Mapping(Mapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)),
        base_len_(std::exchange(other.base_len_, 0)),
        lead_(std::exchange(other.lead_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  explicit operator bool() const noexcept { return base_ != nullptr; }
  const std::byte* data() const noexcept { return static_cast<const std::byte*>(base_) + lead_; }
  std::size_t size() const noexcept { return base_len_ - lead_; }
  // posix_madvise(POSIX_MADV_SEQUENTIAL): aggressive readahead, pages dropped behind. A hint only.
  void advise_sequential() const noexcept;
  void reset() noexcept;

 private:
  Mapping(void* base, std::size_t base_len, std::size_t lead) noexcept
      : base_(base), base_len_(base_len), lead_(lead) {}
  void* base_ = nullptr;
  std::size_t base_len_ = 0;  // what munmap releases
  std::size_t lead_ = 0;      // bytes from the page-aligned base to the requested offset
};

}  // namespace zcnet::sys

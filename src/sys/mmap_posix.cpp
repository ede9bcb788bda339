#include "sys/mmap_posix.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

namespace zcnet::sys {

Result<Mapping> Mapping::map_read(int fd, std::uint64_t offset, std::size_t length) {
  if (length == 0) return Error(EINVAL, "mmap", "empty range of " + describe_fd(fd));
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t base_offset = offset - offset % page;
  const auto lead = static_cast<std::size_t>(offset - base_offset);
  if (base_offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
    return Error(EOVERFLOW, "mmap", describe_fd(fd));
  void* base =
      ::mmap(nullptr, lead + length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(base_offset));
  if (base == MAP_FAILED) return last_error("mmap", describe_fd(fd));
  return Mapping(base, lead + length, lead);
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    reset();
    base_ = std::exchange(other.base_, nullptr);
    base_len_ = std::exchange(other.base_len_, 0);
    lead_ = std::exchange(other.lead_, 0);
  }
  return *this;
}

void Mapping::advise_sequential() const noexcept {
  if (base_) ::posix_madvise(base_, base_len_, POSIX_MADV_SEQUENTIAL);
}

void Mapping::reset() noexcept {
  if (base_) ::munmap(base_, base_len_);
  base_ = nullptr;
  base_len_ = 0;
  lead_ = 0;
}

}  // namespace zcnet::sys

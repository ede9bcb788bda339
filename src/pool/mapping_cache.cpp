#include "zcnet/pool/mapping_cache.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

namespace zcnet {

MappedFile::~MappedFile() {
  // SAFETY: the last shared_ptr is gone, so no transfer can still hand these pages to the kernel;
  // a syscall that already returned no longer references them.
  if (base_) ::munmap(base_, static_cast<std::size_t>(size_));
}

void MappingCache::drop(Lru::iterator it) noexcept {
  stats_.mapped_bytes -= it->file->size();
  ++stats_.evictions;
  index_.erase(it->key);
  lru_.erase(it);
}

// Entries unused for options_.idle go, oldest first: a deleted or replaced file does not keep its
// inode (and disk space) pinned by a mapping nobody asks for.
void MappingCache::trim(std::chrono::steady_clock::time_point now) noexcept {
  while (!lru_.empty() && now - lru_.back().used > options_.idle) drop(std::prev(lru_.end()));
}

Result<std::shared_ptr<const MappedFile>> MappingCache::acquire(int fd, std::uint64_t end) {
  if (options_.max_entries == 0) return std::shared_ptr<const MappedFile>();
  struct stat st {};
  if (::fstat(fd, &st) != 0) return last_error("fstat", describe_fd(fd));
  const auto now = std::chrono::steady_clock::now();
  trim(now);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const Key key{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  auto found = index_.find(key);
  if (!S_ISREG(st.st_mode) || size == 0 || size > options_.max_file_bytes || st.st_nlink == 0) {
    if (found != index_.end()) drop(found->second);
    ++stats_.bypassed;
    return std::shared_ptr<const MappedFile>();
  }
  if (found != index_.end()) {
    Lru::iterator it = found->second;
    // The mapping shows the inode's page cache, so only growth past it needs a new one; a file
    // that shrank keeps its mapping (the strategy reports the missing bytes as ENODATA).
    if (it->file->size() >= std::min(end, size)) {
      it->used = now;
      lru_.splice(lru_.begin(), lru_, it);
      ++stats_.hits;
      return it->file;
    }
    drop(it);
  }
  void* base = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return last_error("mmap", describe_fd(fd));
  // make_shared cannot reach the private constructor; one allocation per mapping made (a miss).
  std::shared_ptr<const MappedFile> file(new MappedFile(base, size));
  while (!lru_.empty() && (lru_.size() >= options_.max_entries ||
                           stats_.mapped_bytes + size > options_.max_total_bytes))
    drop(std::prev(lru_.end()));
  lru_.push_front(Entry{key, file, now});
  index_.emplace(key, lru_.begin());
  stats_.mapped_bytes += size;
  ++stats_.misses;
  return file;
}

}  // namespace zcnet

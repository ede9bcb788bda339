// Whole-file read-only mappings kept across transfers, so that sending the same file again costs
// neither an mmap nor a munmap (munmap's TLB shootdown is what made per-transfer mapping lose to
// pread + send; docs/performance.md, "File -> loopback socket, by size"). With the mapping in place
// the kernel copies the file's page-cache pages straight into the socket: one copy, as a send from
// memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "zcnet/sys/error.hpp"

namespace zcnet {

struct MappingCacheOptions {
  std::size_t max_entries = 64;                 // 0 turns the cache off
  std::uint64_t max_file_bytes = 4ull << 30;    // larger files are mapped in windows per transfer
  std::uint64_t max_total_bytes = 16ull << 30;  // address space held by cached mappings
  std::chrono::milliseconds idle{10'000};       // an entry unused this long is unmapped
};

// One file's mapping: [0, size()) of the inode it was made from, PROT_READ, MAP_SHARED, so it
// shows the page cache as it is now (writes in place are visible). Invariant: only the kernel
// reads these bytes (send/write/pwrite); a page past a shrunken file's end raises SIGBUS in user
// space but only EFAULT in a syscall, which the mmap strategy turns into ENODATA.
class MappedFile {
 public:
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  const std::byte* data() const noexcept { return static_cast<const std::byte*>(base_); }
  std::uint64_t size() const noexcept { return size_; }

 private:
  friend class MappingCache;
  MappedFile(void* base, std::uint64_t size) noexcept : base_(base), size_(size) {}
  void* base_;
  std::uint64_t size_;
};

struct MappingCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // mappings made
  std::uint64_t evictions = 0;  // dropped: bounds, idleness, replaced, or no longer cacheable
  std::uint64_t bypassed = 0;   // not cacheable: not a regular file, empty, too large, deleted
  std::size_t entries = 0;
  std::uint64_t mapped_bytes = 0;
};

// Keyed by (device, inode). Not thread-safe: one per Engine, and an Engine belongs to one thread.
// A transfer holds its MappedFile by shared_ptr, so an entry evicted while in use stays mapped
// until that transfer ends.
class MappingCache {
 public:
  explicit MappingCache(MappingCacheOptions options = {}) : options_(options) {}
  MappingCache(const MappingCache&) = delete;
  MappingCache& operator=(const MappingCache&) = delete;

  // A mapping of the file open as `fd` that covers [0, end), or nullptr if the file is not one to
  // cache (see MappingCacheStats::bypassed). One fstat per call; an mmap on a miss. An error is a
  // failed fstat or mmap (typed, naming the fd).
  Result<std::shared_ptr<const MappedFile>> acquire(int fd, std::uint64_t end);

  MappingCacheStats stats() const noexcept {
    MappingCacheStats s = stats_;
    s.entries = lru_.size();
    return s;
  }

 private:
  struct Key {
    std::uint64_t dev, ino;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept { return k.ino * 31 + k.dev; }
  };
  struct Entry {
    Key key;
    std::shared_ptr<const MappedFile> file;
    std::chrono::steady_clock::time_point used;
  };
  using Lru = std::list<Entry>;  // most recently used first

  void drop(Lru::iterator it) noexcept;
  void trim(std::chrono::steady_clock::time_point now) noexcept;

  MappingCacheOptions options_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash> index_;
  MappingCacheStats stats_;  // entries is filled in by stats()
};

}  // namespace zcnet

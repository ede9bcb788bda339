// A worker's cache of open files (like nginx's open_file_cache): the fd, what fstat said about it,
// and the header fields that follow from that (ETag, Last-Modified, Content-Type), so a hit costs
// no open, fstat or close. Bounded (least recently used out) and revalidated: an entry older than
// `valid` is checked with one fstatat of its path before use, and dropped if the path now names
// another inode, another size or another mtime/ctime (modified, replaced by rename, deleted).
//
// One loop thread owns a FileCache; nothing in it is locked. An entry dropped while a response
// still sends from it stays alive (and its fd open) until that response releases its FileRef, so
// a response never switches files halfway.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/response.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::http {

struct CachedFile {
  UniqueFd fd;
  std::uint64_t size = 0;
  Validators validators;          // ETag and Last-Modified, formatted once
  std::string_view content_type;  // static text from mime_type()

 private:
  friend class FileCache;
  friend class FileRef;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  timespec mtime_{};
  timespec ctime_{};
  std::string key_;  // root-relative path
  Clock::time_point checked_{};
  CachedFile* lru_prev_ = nullptr;  // more recently used
  CachedFile* lru_next_ = nullptr;  // less recently used
  std::uint32_t refs_ = 0;
  bool cached_ = false;  // false once dropped: the last FileRef deletes it
};

// A counted reference to a CachedFile: keeps its fd open while a response uses it. Move-only.
class FileRef {
 public:
  FileRef() = default;
  explicit FileRef(CachedFile* f) noexcept : f_(f) {
    if (f_) ++f_->refs_;
  }
  FileRef(FileRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FileRef& operator=(FileRef&& o) noexcept {
    if (this != &o) {
      reset();
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  FileRef(const FileRef&) = delete;
  FileRef& operator=(const FileRef&) = delete;
  ~FileRef() { reset(); }

  void reset() noexcept;
  explicit operator bool() const noexcept { return f_ != nullptr; }
  const CachedFile* operator->() const noexcept { return f_; }
  const CachedFile& operator*() const noexcept { return *f_; }
  int fd() const noexcept { return f_ ? f_->fd.get() : -1; }

 private:
  CachedFile* f_ = nullptr;
};

class FileCache {
 public:
  struct Limits {
    std::size_t max_entries = 1024;                           // per worker; each holds one open fd
    Clock::duration valid = std::chrono::milliseconds(1000);  // 0: fstatat before every use
  };
  explicit FileCache(Limits limits) : limits_(limits) {}
  FileCache() : FileCache(Limits{}) {}
  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // Entries belong to one document root: a different `owner` (a new configuration) empties the
  // cache first and takes its `limits`. Holding the owner means its address cannot be reused by
  // another while cached. Cheap when the owner is the same (one pointer comparison).
  template <class T>
  void bind(const std::shared_ptr<T>& owner, const Limits& limits) {
    if (owner.get() != owner_.get()) rebind(std::shared_ptr<const void>(owner), limits);
  }

  // The entry for `rel` (a normalized path below `root_fd`), revalidated if older than `valid`;
  // empty on a miss or when the file changed (the stale entry is dropped).
  FileRef find(int root_fd, std::string_view rel, Clock::time_point now);
  // Caches a regular file the caller opened and fstat'ed (the least recently used entry leaves
  // beyond max_entries) and returns a reference to it.
  FileRef insert(std::string_view rel, UniqueFd fd, const struct stat& st, Clock::time_point now);
  // Drops the entry for `rel` if any (e.g. a read found the file shorter than cached).
  void drop(std::string_view rel);

  std::size_t size() const noexcept { return map_.size(); }
  const Limits& limits() const noexcept { return limits_; }

 private:
  void rebind(std::shared_ptr<const void> owner, const Limits& limits);
  void unlink(CachedFile* f) noexcept;  // out of the map and the LRU list; deleted if unused
  void push_front(CachedFile* f) noexcept;
  void remove_from_lru(CachedFile* f) noexcept;
  void clear() noexcept;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  Limits limits_;
  std::shared_ptr<const void> owner_;
  std::unordered_map<std::string, CachedFile*, Hash, std::equal_to<>> map_;
  CachedFile* lru_head_ = nullptr;  // most recently used
  CachedFile* lru_tail_ = nullptr;  // least recently used
};

}  // namespace zcnet::http

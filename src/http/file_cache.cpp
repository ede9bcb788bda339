#include "http/file_cache.hpp"

#include <fcntl.h>

namespace zcnet::http {

namespace {

bool same_time(const timespec& a, const timespec& b) noexcept {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

void FileRef::reset() noexcept {
  if (!f_) return;
  if (--f_->refs_ == 0 && !f_->cached_) delete f_;
  f_ = nullptr;
}

FileCache::~FileCache() {
  clear();
}

void FileCache::rebind(std::shared_ptr<const void> owner, const Limits& limits) {
  clear();
  limits_ = limits;
  owner_ = std::move(owner);
}

FileRef FileCache::find(int root_fd, std::string_view rel, Clock::time_point now) {
  auto it = map_.find(rel);
  if (it == map_.end()) return {};
  CachedFile* f = it->second;
  if (now - f->checked_ >= limits_.valid) {
    // One fstatat per entry per `valid`: the path may now name another file (rename), a changed
    // one (write, truncate: size, mtime or ctime moved) or nothing (deleted).
    struct stat st {};
    if (::fstatat(root_fd, f->key_.c_str(), &st, 0) != 0 || st.st_dev != f->dev_ ||
        st.st_ino != f->ino_ || static_cast<std::uint64_t>(st.st_size) != f->size ||
        !same_time(st.st_mtim, f->mtime_) || !same_time(st.st_ctim, f->ctime_)) {
      unlink(f);
      return {};
    }
    f->checked_ = now;
  }
  if (f != lru_head_) {
    remove_from_lru(f);
    push_front(f);
  }
  return FileRef(f);
}

FileRef FileCache::insert(std::string_view rel, UniqueFd fd, const struct stat& st,
                          Clock::time_point now) {
  drop(rel);
  // One allocation per miss (entry and key), none per hit.
  auto* f = new CachedFile;
  f->fd = std::move(fd);
  f->size = static_cast<std::uint64_t>(st.st_size);
  f->validators = validators_of(st);
  f->content_type = mime_type(rel);
  f->dev_ = st.st_dev;
  f->ino_ = st.st_ino;
  f->mtime_ = st.st_mtim;
  f->ctime_ = st.st_ctim;
  f->key_ = rel;
  f->checked_ = now;
  if (limits_.max_entries == 0) return FileRef(f);  // caching off: freed with the last ref
  f->cached_ = true;
  map_.emplace(f->key_, f);
  push_front(f);
  while (map_.size() > limits_.max_entries && lru_tail_ && lru_tail_ != f) unlink(lru_tail_);
  return FileRef(f);
}

void FileCache::drop(std::string_view rel) {
  auto it = map_.find(rel);
  if (it != map_.end()) unlink(it->second);
}

void FileCache::unlink(CachedFile* f) noexcept {
  map_.erase(f->key_);
  remove_from_lru(f);
  f->cached_ = false;
  if (f->refs_ == 0) delete f;
}

void FileCache::push_front(CachedFile* f) noexcept {
  f->lru_prev_ = nullptr;
  f->lru_next_ = lru_head_;
  if (lru_head_) lru_head_->lru_prev_ = f;
  lru_head_ = f;
  if (!lru_tail_) lru_tail_ = f;
}

void FileCache::remove_from_lru(CachedFile* f) noexcept {
  if (f->lru_prev_)
    f->lru_prev_->lru_next_ = f->lru_next_;
  else if (lru_head_ == f)
    lru_head_ = f->lru_next_;
  if (f->lru_next_)
    f->lru_next_->lru_prev_ = f->lru_prev_;
  else if (lru_tail_ == f)
    lru_tail_ = f->lru_prev_;
  f->lru_prev_ = f->lru_next_ = nullptr;
}

void FileCache::clear() noexcept {
  while (lru_head_) unlink(lru_head_);
}

}  // namespace zcnet::http

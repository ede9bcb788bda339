#include "zcnet/transfer/coalescer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace zcnet {

Coalescer::Coalescer(int fd, BufferPool& pool, CoalescerOptions options)
    : fd_(fd), pool_(&pool), options_(options) {
  struct stat st {};
  is_socket_ = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  iov_.reserve(options_.max_iovecs);
}

Result<void> Coalescer::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  if (!copy_buf_) {
    auto buf = pool_->acquire(options_.flush_bytes);
    if (!buf) return std::move(buf).error();
    copy_buf_ = std::move(*buf);
  }
  // A piece that does not fit the gathering buffer is large enough to go by reference.
  if (bytes.size() > copy_buf_.capacity() - copy_used_) {
    if (auto r = flush(true); !r) return r;
    if (bytes.size() > copy_buf_.capacity()) return append_ref(bytes);
  }
  std::byte* dst = copy_buf_.data() + copy_used_;
  std::memcpy(dst, bytes.data(), bytes.size());
  copy_used_ += bytes.size();
  stats_.bytes_copied_user += bytes.size();
  // Extend the previous piece when it ends where this one starts: fewer iovecs.
  if (!iov_.empty() && static_cast<std::byte*>(iov_.back().iov_base) + iov_.back().iov_len == dst)
    iov_.back().iov_len += bytes.size();
  else
    iov_.push_back({dst, bytes.size()});
  pending_ += bytes.size();
  if (pending_ >= options_.flush_bytes || iov_.size() >= options_.max_iovecs) return flush(true);
  return {};
}

Result<void> Coalescer::append_ref(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  iov_.push_back({const_cast<std::byte*>(bytes.data()), bytes.size()});
  pending_ += bytes.size();
  if (pending_ >= options_.flush_bytes || iov_.size() >= options_.max_iovecs) return flush(true);
  return {};
}

Result<void> Coalescer::flush(bool more) {
  std::size_t first = 0;  // iovecs before `first` are fully written
  while (first < iov_.size()) {
    msghdr msg{};
    msg.msg_iov = iov_.data() + first;
    msg.msg_iovlen = iov_.size() - first;
    ++stats_.syscalls;
    ssize_t w = is_socket_ ? ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0))
                           : ::writev(fd_, msg.msg_iov, static_cast<int>(msg.msg_iovlen));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Error err = last_error(is_socket_ ? "sendmsg" : "writev", describe_fd(fd_));
      iov_.erase(iov_.begin(), iov_.begin() + static_cast<std::ptrdiff_t>(first));
      return err;  // EAGAIN included: the unsent rest stays queued for the next flush()
    }
    auto n = static_cast<std::size_t>(w);
    stats_.bytes += n;
    pending_ -= n;
    while (n > 0 && n >= iov_[first].iov_len) n -= iov_[first++].iov_len;
    if (n > 0) {
      iov_[first].iov_base = static_cast<std::byte*>(iov_[first].iov_base) + n;
      iov_[first].iov_len -= n;
    }
  }
  iov_.clear();
  copy_used_ = 0;
  return {};
}

Cork::Cork(int socket_fd) noexcept : fd_(socket_fd) {
  int one = 1;
  corked_ = ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &one, sizeof one) == 0;
}

Cork::~Cork() {
  if (!corked_) return;
  int zero = 0;  // uncorking pushes whatever partial segment is left
  ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
}

}  // namespace zcnet

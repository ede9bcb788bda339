// Pooled pipes for splice and tee. Invariant (pipe_pool.hpp): a pipe that still holds data is
// never pooled. The lease's own count (filled/drained) is checked against the kernel's (FIONREAD)
// before a pipe goes back, so a miscount closes the pipe instead of leaking bytes to the next user.
#include "zcnet/pool/pipe_pool.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <fstream>

#include "sys/faults.hpp"

namespace zcnet {

namespace {

// /proc/sys/fs/pipe-max-size: the most F_SETPIPE_SZ grants an unprivileged process. Read once.
std::size_t pipe_max_size() {
  static const std::size_t max = [] {
    std::size_t n = 0;
    std::ifstream in("/proc/sys/fs/pipe-max-size");
    if (in >> n && n > 0) return n;
    return std::size_t{1024 * 1024};
  }();
  return max;
}

// Grows the pipe towards `want` bytes and returns its capacity. EPERM (over the per-user pipe
// budget, pipe-user-pages-soft) is met by asking for half as much, down to the default size.
std::size_t size_pipe(int fd, std::size_t want) {
#ifdef F_SETPIPE_SZ
  for (std::size_t ask = want; ask > 0; ask /= 2) {
    int got = ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(std::min<std::size_t>(ask, INT_MAX)));
    if (got > 0) return static_cast<std::size_t>(got);
    if (errno != EPERM && errno != EBUSY) break;
  }
  int now = ::fcntl(fd, F_GETPIPE_SZ);
  if (now > 0) return static_cast<std::size_t>(now);
#else
  (void)fd;
  (void)want;
#endif
  return 65536;  // the Linux default; other systems size pipes themselves
}

bool holds_data(const PipeLease& lease) noexcept {
  if (lease.buffered() != 0) return true;
  int n = 0;
  return ::ioctl(lease.read_fd(), FIONREAD, &n) != 0 || n != 0;
}

}  // namespace

PipeLease::PipeLease(PipeLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      read_(std::move(other.read_)),
      write_(std::move(other.write_)),
      capacity_(std::exchange(other.capacity_, 0)),
      buffered_(std::exchange(other.buffered_, 0)) {}

PipeLease& PipeLease::operator=(PipeLease&& other) noexcept {
  if (this != &other) {
    if (pool_ && read_) pool_->give_back(*this);
    pool_ = std::exchange(other.pool_, nullptr);
    read_ = std::move(other.read_);
    write_ = std::move(other.write_);
    capacity_ = std::exchange(other.capacity_, 0);
    buffered_ = std::exchange(other.buffered_, 0);
  }
  return *this;
}

PipeLease::~PipeLease() {
  if (pool_ && read_) pool_->give_back(*this);
}

PipePool::PipePool(std::size_t pipe_bytes, std::size_t max_idle, std::size_t max_leased)
    : pipe_bytes_(std::clamp<std::size_t>(pipe_bytes, 4096, pipe_max_size())),
      max_idle_(max_idle),
      max_leased_(max_leased) {
  idle_.reserve(std::min<std::size_t>(max_idle_, 1024));
}

Result<PipeLease> PipePool::acquire() {
  {
    std::lock_guard lock(mu_);
    if (stats_.leased >= max_leased_) {
      ++stats_.refused;
      return Error(ENOBUFS, "pipe pool", fmt::format("all {} pipes in use", max_leased_));
    }
    ++stats_.leased;  // counted now so concurrent acquires respect the cap
    if (!idle_.empty()) {
      PipeLease lease = std::move(idle_.back());
      idle_.pop_back();
      lease.pool_ = this;
      ++stats_.reused;
      return lease;
    }
  }
  int fds[2];
  const int injected = sys::faults::inject_fd(sys::faults::FdCall::Pipe);
  if (injected != 0 || ::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    Error e = injected ? Error(injected, "pipe2", "pipe pool") : last_error("pipe2", "pipe pool");
    std::lock_guard lock(mu_);
    --stats_.leased;
    return e;
  }
  PipeLease lease;
  lease.read_.reset(fds[0]);
  lease.write_.reset(fds[1]);
  lease.capacity_ = size_pipe(fds[1], pipe_bytes_);
  lease.pool_ = this;
  std::lock_guard lock(mu_);
  ++stats_.created;
  return lease;
}

PipePoolStats PipePool::stats() const {
  std::lock_guard lock(mu_);
  PipePoolStats s = stats_;
  s.idle = idle_.size();
  return s;
}

// Called by a lease that still owns its pipe. Afterwards the lease is empty either way.
void PipePool::give_back(PipeLease& lease) noexcept {
  const bool dirty = holds_data(lease);
  PipeLease back;
  back.read_ = std::move(lease.read_);
  back.write_ = std::move(lease.write_);
  back.capacity_ = std::exchange(lease.capacity_, 0);
  lease.buffered_ = 0;
  lease.pool_ = nullptr;
  std::lock_guard lock(mu_);
  --stats_.leased;
  if (dirty) {
    ++stats_.discarded_nonempty;
    return;  // `back` closes both ends
  }
  if (idle_.size() >= max_idle_) return;
  try {
    idle_.push_back(std::move(back));  // pool_ stays null while idle
  } catch (...) {
    // Out of memory for the idle list: closing the pipe is the safe answer.
  }
}

}  // namespace zcnet

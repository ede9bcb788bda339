// The poll() backend: the portable floor (docs/architecture.md, invariant 2). Level-triggered; each
// wait polls every fd that has a waiting op, so it suits tens of connections, not thousands. A
// self-pipe wakes a blocked poll().
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "loop/reactor.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::detail {

namespace {

class PollReactor final : public Reactor {
 public:
  PollReactor(Loop& loop, const LoopOptions& options, UniqueFd wake_r, UniqueFd wake_w)
      : Reactor(loop, options), wake_r_(std::move(wake_r)), wake_w_(std::move(wake_w)) {}

  void wait(std::optional<std::chrono::nanoseconds> timeout) override {
    pfds_.clear();
    pfds_.push_back({wake_r_.get(), POLLIN, 0});
    for (int fd : watched_) {
      FdState* st = find(fd);
      short ev = 0;
      if (!st->waiting[0].empty()) ev |= POLLIN;
      if (!st->waiting[1].empty()) ev |= POLLOUT;
      if (ev) pfds_.push_back({fd, ev, 0});
    }
    int ms = -1;
    if (timeout) {
      auto t = (*timeout + std::chrono::microseconds(999)) / std::chrono::milliseconds(1);
      ms = static_cast<int>(std::min<std::int64_t>(t, 1 << 30));
    }
    ++stats_.syscalls;
    ++stats_.waits;
    int n = ::poll(pfds_.data(), pfds_.size(), ms);
    if (n <= 0) return;
    if (pfds_[0].revents) {
      char buf[64];
      ++stats_.syscalls;
      [[maybe_unused]] auto r = ::read(wake_r_.get(), buf, sizeof buf);
    }
    for (std::size_t i = 1; i < pfds_.size(); ++i) {
      short re = pfds_[i].revents;
      if (!re) continue;
      bool err = (re & (POLLERR | POLLHUP | POLLNVAL)) != 0;
      on_ready(pfds_[i].fd, err || (re & POLLIN), err || (re & POLLOUT));
    }
  }

  void wake() noexcept override {
    char c = 1;
    [[maybe_unused]] auto r = ::write(wake_w_.get(), &c, 1);
  }

 protected:
  void watch(int fd, FdState& st) override {
    st.watched = true;
    st.slot = static_cast<std::uint32_t>(watched_.size());
    watched_.push_back(fd);
  }
  void unwatch(int, FdState& st) override {
    int last = watched_.back();
    watched_[st.slot] = last;
    find(last)->slot = st.slot;
    watched_.pop_back();
    st.watched = false;
  }

 private:
  UniqueFd wake_r_;
  UniqueFd wake_w_;
  std::vector<int> watched_;
  std::vector<pollfd> pfds_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_poll_reactor(Loop& loop, const LoopOptions& options) {
  int p[2];
  if (::pipe(p) != 0) return last_error("pipe");
  UniqueFd r(p[0]), w(p[1]);
  for (int fd : p) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  std::unique_ptr<Backend> b =
      std::make_unique<PollReactor>(loop, options, std::move(r), std::move(w));
  return b;
}

}  // namespace zcnet::detail

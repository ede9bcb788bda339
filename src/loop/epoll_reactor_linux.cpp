// The epoll backend: an edge-triggered reactor. Each fd is added once with
// EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and stays until forget(); an edge runs the fd's waiting
// ops until one gets EAGAIN (see reactor.hpp). An eventfd wakes a blocked epoll_wait.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>

#include "loop/reactor.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::detail {

namespace {

class EpollReactor final : public Reactor {
 public:
  EpollReactor(Loop& loop, const LoopOptions& options, UniqueFd ep, UniqueFd wake)
      : Reactor(loop, options), ep_(std::move(ep)), wake_(std::move(wake)) {}

  void wait(std::optional<std::chrono::nanoseconds> timeout) override {
    int ms = -1;
    if (timeout) {
      // Round up: waking a little late is fine, waking early spins until the timer is due.
      auto t = (*timeout + std::chrono::microseconds(999)) / std::chrono::milliseconds(1);
      ms = static_cast<int>(std::min<std::int64_t>(t, 1 << 30));
    }
    ++stats_.syscalls;
    ++stats_.waits;
    int n = ::epoll_wait(ep_.get(), events_.data(), static_cast<int>(events_.size()), ms);
    for (int i = 0; i < n; ++i) {
      const epoll_event& e = events_[i];
      int fd = e.data.fd;
      if (fd == wake_.get()) {
        std::uint64_t v;
        ++stats_.syscalls;
        [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof v);
        continue;
      }
      const bool err = (e.events & (EPOLLERR | EPOLLHUP)) != 0;
      const bool rdhup = (e.events & EPOLLRDHUP) != 0;
      on_ready(fd, err || rdhup || (e.events & EPOLLIN), err || (e.events & EPOLLOUT),
               err || rdhup);
    }
  }

  void wake() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_.get(), &one, sizeof one);
  }

 protected:
  void watch(int fd, FdState& st) override {
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.fd = fd;
    ++stats_.syscalls;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0 && errno == EEXIST) {
      ++stats_.syscalls;
      ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &e);
    }
    // Other failures (EBADF, EPERM for a regular file) leave the fd unwatched: its ops stay
    // pending until their deadline or cancellation, never spin.
    st.watched = true;
  }
  void unwatch(int fd, FdState& st) override {
    ++stats_.syscalls;
    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);  // ENOENT/EBADF if already closed: fine
    st.watched = false;
  }

 private:
  UniqueFd ep_;
  UniqueFd wake_;
  std::array<epoll_event, 256> events_{};
};

}  // namespace

Result<std::unique_ptr<Backend>> make_epoll_reactor(Loop& loop, const LoopOptions& options) {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return last_error("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return last_error("eventfd");
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.fd = wake.get();
  if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &e) != 0) return last_error("epoll_ctl");
  std::unique_ptr<Backend> b =
      std::make_unique<EpollReactor>(loop, options, std::move(ep), std::move(wake));
  return b;
}

}  // namespace zcnet::detail

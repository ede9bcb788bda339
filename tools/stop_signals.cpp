#include "stop_signals.hpp"

#include <ctime>

namespace zcnet::cli {

StopSignals::StopSignals(bool take_sighup) {
  ::sigemptyset(&set_);
  ::sigaddset(&set_, SIGINT);
  ::sigaddset(&set_, SIGTERM);
  if (take_sighup) ::sigaddset(&set_, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void StopSignals::listen(std::function<void()> graceful, std::function<void()> immediate,
                         std::function<void()> reload) {
  waiter_ = std::thread([this, graceful = std::move(graceful), immediate = std::move(immediate),
                         reload = std::move(reload)] {
    const timespec tick{0, 200'000'000};  // how soon the destructor's request is seen
    while (!finished_.load()) {
      const int sig = ::sigtimedwait(&set_, nullptr, &tick);
      if (sig < 0) continue;
      if (sig == SIGHUP) {
        if (reload && seen_.load() == 0) reload();  // no reload once shutting down
        continue;
      }
      if (seen_.fetch_add(1) == 0)
        graceful();
      else
        immediate();
    }
  });
}

void StopSignals::close() {
  finished_.store(true);
  if (waiter_.joinable()) waiter_.join();
}

StopSignals::~StopSignals() {
  close();
  ::pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
}

}  // namespace zcnet::cli

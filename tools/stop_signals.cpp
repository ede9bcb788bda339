#include "stop_signals.hpp"

#include <ctime>

namespace zcnet::cli {

StopSignals::StopSignals() {
  ::sigemptyset(&set_);
  ::sigaddset(&set_, SIGINT);
  ::sigaddset(&set_, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

void StopSignals::listen(std::function<void()> graceful, std::function<void()> immediate) {
  waiter_ = std::thread([this, graceful = std::move(graceful), immediate = std::move(immediate)] {
    const timespec tick{0, 200'000'000};  // how soon the destructor's request is seen
    while (!finished_.load()) {
      if (::sigtimedwait(&set_, nullptr, &tick) < 0) continue;
      if (seen_.fetch_add(1) == 0)
        graceful();
      else
        immediate();
    }
  });
}

StopSignals::~StopSignals() {
  finished_.store(true);
  if (waiter_.joinable()) waiter_.join();
  ::pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
}

}  // namespace zcnet::cli

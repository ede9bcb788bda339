#include "zcnet/loop/loop_group.hpp"

namespace zcnet {

LoopGroup::LoopGroup(LoopGroupOptions options)
    : options_(std::move(options)),
      threads_(options_.threads ? options_.threads
                                : std::max(1u, std::thread::hardware_concurrency())) {}

LoopGroup::~LoopGroup() {
  if (workers_.empty()) return;
  request_shutdown();
  try {
    join();
  } catch (...) {  // a destructor cannot report it; join() earlier to see it
  }
}

Result<void> LoopGroup::start(Main main) {
  for (std::size_t i = 0; i < threads_; ++i) {
    auto loop = Loop::create(options_.loop);
    if (!loop) {
      loops_.clear();
      return std::move(loop).error();
    }
    loops_.push_back(std::move(*loop));
  }
  for (std::size_t i = 0; i < threads_; ++i) {
    workers_.emplace_back([this, i, main] {
      try {
        loops_[i]->block_on(main(*loops_[i], i));
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!failure_) failure_ = std::current_exception();
      }
    });
  }
  return {};
}

void LoopGroup::join() {
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  loops_.clear();
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

void LoopGroup::request_shutdown() noexcept {
  for (auto& l : loops_) l->request_shutdown();
}

void LoopGroup::stop() noexcept {
  for (auto& l : loops_) l->stop();
}

}  // namespace zcnet

#include "zcnet/loop/task_group.hpp"

namespace zcnet {

void TaskGroup::spawn(Task<void> task) {
  ++live_;
  loop_->spawn(run(this, std::move(task)));
}

Task<void> TaskGroup::run(TaskGroup* group, Task<void> task) {
  try {
    co_await std::move(task);
  } catch (...) {
    if (!group->failure_) group->failure_ = std::current_exception();
  }
  if (--group->live_ == 0) {
    group->idle_.cancel();  // wakes join()
    group->idle_ = CancelSource();
  }
}

Task<bool> TaskGroup::join(Clock::time_point deadline) {
  while (live_ > 0) {
    // Ends with ECANCELED when the group empties, or with success at the deadline.
    const CancelToken idle = idle_.token();  // named: no temporaries inside co_await (loop.hpp)
    auto r = co_await loop_->sleep_until(deadline, idle);
    if (r) break;
  }
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  co_return live_ == 0;
}

Task<bool> TaskGroup::shutdown(Clock::time_point deadline) {
  bool in_time = co_await join(deadline);
  if (!in_time) {
    cancel();
    co_await join();
  }
  co_return in_time;
}

}  // namespace zcnet

// TaskGroup: the tasks of one server (or any scope) with one cancellation token, for graceful
// shutdown: stop accepting, join(deadline) to let transfers finish, then cancel what is left.
#pragma once

#include <cstddef>
#include <exception>

#include "zcnet/loop/cancel.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task.hpp"

namespace zcnet {

// Lives on the loop's thread and must outlive every task spawned into it.
class TaskGroup {
 public:
  explicit TaskGroup(Loop& loop) : loop_(&loop) {}
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Runs `task` on the loop as part of the group. An exception escaping it is kept and rethrown
  // by join().
  void spawn(Task<void> task);
  std::size_t size() const noexcept { return live_; }
  // Tasks pass this in their IoOptions so cancel() reaches whatever they wait on.
  CancelToken token() const { return cancel_.token(); }
  void cancel() { cancel_.cancel(); }

  // Waits until every task has ended (true) or `deadline` passed (false).
  Task<bool> join(Clock::time_point deadline = Clock::time_point::max());
  // join(deadline); if tasks are left, cancel() them and wait for them to unwind. True if every
  // task ended before the deadline.
  Task<bool> shutdown(Clock::time_point deadline);

 private:
  static Task<void> run(TaskGroup* group, Task<void> task);

  Loop* loop_;
  std::size_t live_ = 0;
  CancelSource cancel_;
  CancelSource idle_;  // cancelled (and replaced) each time the group becomes empty
  std::exception_ptr failure_;
};

}  // namespace zcnet

// Task<T> and the loop's task handling: values, errors and exceptions reach the awaiter.
#include "zcnet/loop/task.hpp"

#include <stdexcept>
#include <string>

#include "loop_test_support.hpp"
#include "zcnet/loop/task_group.hpp"

namespace zcnet::test {
namespace {

class TaskTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(TaskTest);

Task<int> answer() {
  co_return 42;
}
Task<int> add_one(Task<int> inner) {
  co_return co_await std::move(inner) + 1;
}
Task<void> thrower() {
  throw std::runtime_error("boom");
  co_return;
}
Task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return co_await depth(n - 1) + 1;
}
Task<Result<int>> failing() {
  co_return Error(ECONNRESET, "read", "fd 9");
}

TEST_P(TaskTest, Await_ReturnsValueOfInnerTask) {
  auto loop = make_loop();
  EXPECT_EQ(loop->block_on(add_one(answer())), 43);
}

TEST_P(TaskTest, Await_ExceptionSurfacesToAwaiter) {
  auto loop = make_loop();
  auto outer = []() -> Task<std::string> {
    try {
      co_await thrower();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "not thrown";
  };
  EXPECT_EQ(loop->block_on(outer()), "boom");
}

TEST_P(TaskTest, Await_ErrorResultSurfacesToAwaiter) {
  auto loop = make_loop();
  auto r = loop->block_on(failing());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ECONNRESET);
}

TEST_P(TaskTest, DeepChain_SymmetricTransferDoesNotGrowTheStack) {
  auto loop = make_loop();
  EXPECT_EQ(loop->block_on(depth(20000)), 20000);
}

TEST_P(TaskTest, Spawn_ExceptionEscapingDetachedTaskIsRethrownByRun) {
  auto loop = make_loop();
  loop->spawn(thrower());
  EXPECT_THROW(loop->run(), std::runtime_error);
}

TEST_P(TaskTest, Run_ReturnsWhenNoTaskIsLeft) {
  auto loop = make_loop();
  int ran = 0;
  for (int i = 0; i < 10; ++i)
    loop->spawn([](Loop& l, int& n) -> Task<void> {
      (void)co_await l.yield();
      ++n;
    }(*loop, ran));
  loop->run();
  EXPECT_EQ(ran, 10);
}

// Counts, in `n`, the frames it lives in that have been destroyed.
struct FrameGone {
  int& n;
  ~FrameGone() { ++n; }
};

TEST_P(TaskTest, Destroy_LoopWithSuspendedTasksFreesThem) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  int gone = 0;
  loop->spawn([](Loop& l, int fd, int& n) -> Task<void> {
    FrameGone g{n};
    (void)co_await l.readable(fd);
  }(*loop, a.get(), gone));
  loop->spawn([](Loop& l, int& n) -> Task<void> {
    FrameGone g{n};
    (void)co_await l.sleep_for(std::chrono::hours(1));
  }(*loop, gone));
  loop->spawn([](Loop& l, int& n) -> Task<void> {
    FrameGone g{n};
    (void)co_await l.yield();
    l.stop();
  }(*loop, gone));
  loop->run();
  EXPECT_EQ(gone, 1) << "only the task that ran to its end is gone";
  loop.reset();  // ASan also checks: no leak, no use after free
  EXPECT_EQ(gone, 3) << "destroying the loop destroys the two suspended frames";
}

TEST_P(TaskTest, TaskGroup_JoinRethrowsFirstException) {
  auto loop = make_loop();
  auto main = [](Loop& l) -> Task<bool> {
    TaskGroup g(l);
    g.spawn([](Loop& lp) -> Task<void> { (void)co_await lp.yield(); }(l));
    g.spawn(thrower());
    try {
      co_await g.join();
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(loop->block_on(main(*loop)));
}

}  // namespace
}  // namespace zcnet::test

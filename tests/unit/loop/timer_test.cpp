// Timers: sleeps fire in deadline order, never early, and late only within a generous tolerance
// (the machine is shared); per-operation deadlines end an op with ETIMEDOUT.
#include <algorithm>
#include <vector>

#include "loop_test_support.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class TimerTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(TimerTest);

constexpr auto kTolerance = 750ms;

TEST_P(TimerTest, Sleep_ManyTimersFireInDeadlineOrderAndOnTime) {
  auto loop = make_loop();
  struct Fired {
    int index;
    Clock::time_point due, at;
  };
  std::vector<Fired> fired;
  auto start = Clock::now();
  for (int i = 0; i < 40; ++i) {
    // Deliberately not armed in deadline order.
    auto due = start + std::chrono::milliseconds(20 + (i * 37) % 300);
    loop->spawn([](Loop& l, int idx, Clock::time_point d, std::vector<Fired>& out) -> Task<void> {
      auto r = co_await l.sleep_until(d);
      EXPECT_TRUE(r);
      out.push_back({idx, d, Clock::now()});
    }(*loop, i, due, fired));
  }
  loop->run();
  ASSERT_EQ(fired.size(), 40u);
  for (std::size_t i = 0; i < fired.size(); ++i) {
    EXPECT_GE(fired[i].at, fired[i].due) << "timer " << fired[i].index << " fired early";
    EXPECT_LE(fired[i].at - fired[i].due, kTolerance) << "timer " << fired[i].index;
    if (i > 0) {
      EXPECT_LE(fired[i - 1].due, fired[i].due) << "out of order at " << i;
    }
  }
}

TEST_P(TimerTest, Sleep_EqualDeadlinesFireInArmingOrder) {
  auto loop = make_loop();
  std::vector<int> order;
  auto due = Clock::now() + 30ms;
  for (int i = 0; i < 10; ++i)
    loop->spawn([](Loop& l, int idx, Clock::time_point d, std::vector<int>& out) -> Task<void> {
      (void)co_await l.sleep_until(d);
      out.push_back(idx);
    }(*loop, i, due, order));
  loop->run();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_P(TimerTest, Read_DeadlinePassesWithNoData_ReturnsEtimedout) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  auto start = Clock::now();
  auto r = loop->block_on([](Loop& l, int fd) -> Task<Result<std::size_t>> {
    std::byte buf[16];
    co_return co_await l.read(fd, buf, within(50ms));
  }(*loop, a.get()));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ETIMEDOUT) << r.error().message();
  EXPECT_GE(took, 50ms);
  EXPECT_LE(took, 50ms + kTolerance);
  loop->close(std::move(a));
}

TEST_P(TimerTest, Read_DataBeforeDeadline_CompletesAndTimerIsDropped) {
  auto loop = make_loop();
  auto [a, b] = unix_pair_nonblocking();
  auto r = loop->block_on([](Loop& l, int fd, int peer) -> Task<Result<std::size_t>> {
    l.spawn([](Loop& lp, int p) -> Task<void> {
      (void)co_await lp.sleep_for(10ms);
      const char msg[] = "hi";
      (void)co_await lp.write(p, std::as_bytes(std::span(msg, 2)));
    }(l, peer));
    std::byte buf[16];
    co_return co_await l.read(fd, buf, within(5s));
  }(*loop, a.get(), b.get()));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2u);
  loop->close(std::move(a));
  loop->close(std::move(b));
}

}  // namespace
}  // namespace zcnet::test

// co_await transfer(loop, t): the engine's strategies driven by the loop, waiting wherever a
// step says it would block.
#include <algorithm>
#include <array>
#include <cerrno>

#include "zcnet/loop/loop.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet {

Task<Result<Stats>> transfer(Loop& loop, Transfer& t, IoOptions o, std::uint64_t budget) {
  // fds this transfer waited on: a strategy's own ring or pipe may close when the transfer
  // does, so the loop must not keep them registered afterwards.
  std::array<int, 4> waited{-1, -1, -1, -1};
  auto release = [&] {
    for (int fd : waited)
      if (fd >= 0) loop.release_if_idle(fd);
  };
  for (;;) {
    if (o.cancel.cancelled()) {
      release();
      co_return Error(ECANCELED, "transfer");
    }
    Outcome out = t.step(budget);  // a step the engine could not handle carries its error
    if (out.error) {
      release();
      co_return std::move(*out.error);
    }
    if (out.done || t.done()) {
      release();
      co_return t.stats();
    }
    if (out.wait) {
      int fd = out.wait->fd;
      if (std::find(waited.begin(), waited.end(), fd) == waited.end()) {
        auto slot = std::find(waited.begin(), waited.end(), -1);
        if (slot != waited.end()) *slot = fd;
      }
      const auto began = Clock::now();
      auto r = co_await loop.wait(fd, out.wait->dir, o);
      t.add_wait_time(Clock::now() - began);
      if (!r) {
        release();
        co_return std::move(r).error();
      }
      continue;
    }
    (void)co_await loop.yield();  // budget spent: let the loop's other tasks run
  }
}

}  // namespace zcnet

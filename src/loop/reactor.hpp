// Private: what the epoll and poll() reactors share. A reactor tries each operation's syscall at
// once; on EAGAIN the op waits in its fd's list for that direction and is retried when the fd
// becomes ready. The concrete backend only says how readiness is watched and waited for.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loop/backend.hpp"

namespace zcnet::detail {

// The Splice op's system call on reactors (splice_op_*.cpp): splice(2) with SPLICE_F_MOVE and
// SPLICE_F_NONBLOCK, SIGPIPE held off; -1 and errno ENOSYS where there is no splice.
long splice_now(int in, int out, std::size_t len) noexcept;

// Loop-owned buffers for Loop::recv() on reactors: allocated on first use, at most
// `count` of them. Ops that find none wait (FIFO) until one comes back.
class RecvPool final : public BufferOwner {
 public:
  RecvPool(std::size_t count, std::size_t bytes) : count_(count), bytes_(bytes) {}
  // -1 if every buffer is out.
  std::int64_t take();
  std::byte* data(std::uint32_t id) noexcept { return buffers_[id].get(); }
  std::size_t bytes() const noexcept { return bytes_; }
  void give_back(std::uint32_t id) noexcept override;
  void set_on_return(void (*fn)(void*), void* ctx) noexcept {
    on_return_ = fn;
    on_return_ctx_ = ctx;
  }

 private:
  std::size_t count_;
  std::size_t bytes_;
  std::vector<std::unique_ptr<std::byte[]>> buffers_;
  std::vector<std::uint32_t> free_;
  void (*on_return_)(void*) = nullptr;
  void* on_return_ctx_ = nullptr;
};

class Reactor : public Backend {
 public:
  Reactor(Loop& loop, const LoopOptions& options);
  bool try_now(Op& op) override;
  void submit(Op& op) override;
  bool native_deadline(const Op&) const noexcept override { return false; }
  void cancel(Op& op) override;
  void forget(int fd) override;
  void release_if_idle(int fd) override;
  void would_block(int fd, Direction dir) noexcept override {
    if (FdState* st = find(fd)) st->ready[static_cast<int>(dir)] = false;
  }
  void drain() override {}
  LoopStats stats() const noexcept override { return stats_; }

 protected:
  struct OpList {
    Op* head = nullptr;
    Op* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
  };
  struct FdState {
    OpList waiting[2];               // indexed by Direction
    bool ready[2] = {false, false};  // an edge came while nobody waited (edge-triggered only)
    // The peer half-closed (or the socket failed): a read never blocks again, so a wait for
    // readable completes at once from now on, as a level-triggered poll would. Lets a reader
    // that saw a short read wait without first reading to EAGAIN (edge-triggered only).
    bool read_closed = false;
    bool watched = false;
    std::uint32_t slot = 0;  // backend's own index (poll reactor)
  };

  // Starts watching `fd` (epoll_ctl ADD; poll: remember it). Called before the first wait.
  virtual void watch(int fd, FdState& st) = 0;
  virtual void unwatch(int fd, FdState& st) = 0;
  // Runs the ops waiting on `fd` for each direction that became ready.
  void on_ready(int fd, bool readable, bool writable, bool read_closed = false);
  FdState* state(int fd);
  FdState* find(int fd) noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < fds_.size() ? &fds_[fd] : nullptr;
  }

  Loop& loop_;
  LoopStats stats_;

 private:
  enum : std::uint8_t { kNone = 0, kRead = 1, kWrite = 2, kStarved = 3 };
  int perform(Op& op);  // the nonblocking syscall: result, or -EAGAIN to wait
  void push(OpList& l, Op& op, std::uint8_t tag) noexcept;
  void unlink(Op& op) noexcept;
  OpList* list_of(Op& op) noexcept;
  void run_list(int fd, Direction dir);
  static void on_buffer_returned(void* self);

  std::vector<FdState> fds_;
  OpList starved_;  // Recv ops waiting for a pool buffer
  RecvPool recv_pool_;
};

}  // namespace zcnet::detail

// The loop: runs coroutine tasks on one thread and drives I/O through one backend, an
// edge-triggered epoll reactor, an io_uring proactor, or a poll() reactor (portable floor).
// Every awaitable returns Result<T>; a deadline becomes ETIMEDOUT, a cancelled token ECANCELED.
//
//   auto loop = Loop::create().value();
//   loop->block_on([](Loop& l) -> Task<void> { auto c = co_await l.accept(fd); ... }(*loop));
//
// Invariants: one loop per thread (only stop() and request_shutdown() may be called from other
// threads); fds given to the loop are nonblocking; an fd the loop has waited on is closed with
// Loop::close() (or forget() before ::close()), so the backend drops what it keeps for it.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "zcnet/loop/cancel.hpp"
#include "zcnet/loop/loop_op.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/stats.hpp"

namespace zcnet {

class Transfer;

enum class BackendKind : std::uint8_t { Auto, Epoll, Uring, Poll };
std::string_view to_string(BackendKind k) noexcept;                        // "epoll", "uring", ...
std::optional<BackendKind> parse_backend(std::string_view name) noexcept;  // "auto" too
// True if an io_uring with everything the proactor uses can be set up here (probed once).
bool uring_backend_available() noexcept;
// What BackendKind::Auto resolves to here: $ZCNET_BACKEND if set, else io_uring when available,
// else epoll (poll in the portable build).
BackendKind auto_backend() noexcept;

struct LoopOptions {
  // Auto: $ZCNET_BACKEND (epoll|uring|poll) if set, else io_uring when the probe allows it,
  // else epoll. An explicit kind here wins over the environment.
  BackendKind backend = BackendKind::Auto;
  std::size_t recv_buffer_bytes = 16 * 1024;    // size of each recv() buffer
  std::size_t recv_buffers = 1024;              // per loop (a power of two); bounds recv() memory
  std::size_t recv_queue_per_fd = 4;            // received, unclaimed buffers per fd before pausing
  std::chrono::milliseconds accept_pause{100};  // after EMFILE/ENFILE on accept
  unsigned uring_entries = 1024;                // submission queue size
};

struct LoopStats {
  std::uint64_t syscalls = 0;  // every syscall the backend made (wait, submit, ctl, read, ...)
  std::uint64_t waits = 0;     // epoll_wait / poll / io_uring_enter that may block
  std::uint64_t ops = 0;       // operations completed
};

using Clock = std::chrono::steady_clock;

// Rule for every caller: never build a temporary with a destructor (IoOptions, CancelToken, a
// Result) inside a co_await expression; name it on the line before. g++ 12 can destroy such a
// temporary twice: `co_await l.accept(fd, {.cancel = t})` double-frees the token, and a release
// build of `co_await f(IoOptions{group.token()})` corrupted a CancelState's refcount (zcnet recv
// crashed under -O2 only; ASan builds passed). Not an aggregate, so {.cancel = t} cannot compile.
struct IoOptions {
  IoOptions() noexcept {}
  IoOptions(CancelToken c) noexcept : cancel(std::move(c)) {}
  IoOptions(Clock::time_point d, CancelToken c = {}) noexcept : deadline(d), cancel(std::move(c)) {}

  Clock::time_point deadline = Clock::time_point::max();  // absolute: ETIMEDOUT after it
  CancelToken cancel;
};
inline IoOptions within(Clock::duration d, CancelToken cancel = {}) {
  return IoOptions{Clock::now() + d, std::move(cancel)};
}

// Bytes from Loop::recv(), in a loop-owned buffer (io_uring: a provided-buffer ring slot) that
// goes back to the loop when this handle dies. Empty = the peer closed (EOF).
class RecvBuffer {
 public:
  RecvBuffer() = default;
  RecvBuffer(detail::BufferOwner* owner, std::uint32_t id, const std::byte* data,
             std::size_t size) noexcept
      : owner_(owner), id_(id), data_(data), size_(size) {}
  RecvBuffer(RecvBuffer&& o) noexcept
      : owner_(std::exchange(o.owner_, nullptr)), id_(o.id_), data_(o.data_), size_(o.size_) {}
  RecvBuffer& operator=(RecvBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      owner_ = std::exchange(o.owner_, nullptr);
      id_ = o.id_;
      data_ = o.data_;
      size_ = o.size_;
    }
    return *this;
  }
  ~RecvBuffer() { reset(); }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  bool eof() const noexcept { return size_ == 0; }
  void reset() noexcept {
    if (owner_) std::exchange(owner_, nullptr)->give_back(id_);
    size_ = 0;
  }

 private:
  detail::BufferOwner* owner_ = nullptr;
  std::uint32_t id_ = 0;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {
class Backend;
class TimerHeap;
struct DetachedPromise;
Error op_error(const Op& op);
}  // namespace detail

// co_await-able; completes with Result<R>. Not movable: the Op inside is what the backend holds.
template <class R>
class [[nodiscard]] OpAwaiter {
 public:
  OpAwaiter(Loop& loop, detail::OpCode code, int fd, const IoOptions& o,
            std::span<const std::byte> buf = {}, Direction dir = Direction::Read) {
    op_.loop = &loop;
    op_.code = code;
    op_.fd = fd;
    op_.deadline = o.deadline;
    op_.token = o.cancel;
    // The kernel only reads from a Write/SendZc buffer; Op keeps one pointer type for both.
    op_.buf = const_cast<std::byte*>(buf.data());
    op_.len = buf.size();
    op_.dir = dir;
  }
  OpAwaiter(const OpAwaiter&) = delete;
  OpAwaiter& operator=(const OpAwaiter&) = delete;
  detail::Op& op() noexcept { return op_; }

  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);
  Result<R> await_resume() {
    if (op_.res < 0) return detail::op_error(op_);
    if constexpr (std::is_void_v<R>) {
      return {};
    } else if constexpr (std::is_same_v<R, UniqueFd>) {
      return UniqueFd(op_.res);
    } else if constexpr (std::is_same_v<R, RecvBuffer>) {
      return RecvBuffer(op_.owner, op_.buf_id, op_.buf, static_cast<std::size_t>(op_.res));
    } else {
      return static_cast<R>(op_.res);
    }
  }

 protected:
  detail::Op op_;
};

class ConnectAwaiter : public OpAwaiter<void> {
 public:
  ConnectAwaiter(Loop& loop, int fd, const sockaddr* addr, socklen_t len, const IoOptions& o);

 private:
  sockaddr_storage addr_{};
};

class SpliceAwaiter : public OpAwaiter<std::size_t> {
 public:
  SpliceAwaiter(Loop& loop, int in, int out, std::size_t len, const IoOptions& o);
};

class Loop {
 public:
  // Fails with ENOSYS when the forced backend is not available here.
  static Result<std::unique_ptr<Loop>> create(LoopOptions options = {});
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  BackendKind backend() const noexcept { return kind_; }
  const LoopOptions& options() const noexcept { return options_; }
  LoopStats stats() const noexcept;

  // Starts `task` on the next turn; the loop owns it. An exception escaping it stops run(), which
  // rethrows it. Tasks still suspended when the loop is destroyed are destroyed with it.
  void spawn(Task<void> task);
  // Runs until stop(), or until no spawned task is left.
  void run();
  // Runs until `task` ends and returns its value (rethrows its exception). Throws
  // std::runtime_error if stop() ended the loop first.
  template <class T>
  T block_on(Task<T> task);
  void stop() noexcept;  // thread-safe
  // Thread-safe: cancels shutdown_token() on the loop's thread (start of a graceful shutdown).
  void request_shutdown() noexcept;
  CancelToken shutdown_token() const { return shutdown_.token(); }

  // Waits until a read of `fd` would not block. Once the peer has half-closed (or the socket
  // failed), it completes at once on every backend, so a reader that got fewer bytes than it
  // asked for from a stream socket may wait here without reading again to EAGAIN first.
  OpAwaiter<void> readable(int fd, const IoOptions& o = {});
  OpAwaiter<void> writable(int fd, const IoOptions& o = {});
  OpAwaiter<void> wait(int fd, Direction dir, const IoOptions& o = {});
  // One connection; EMFILE/ENFILE are returned as they are (see accept()).
  OpAwaiter<UniqueFd> accept_once(int listen_fd, const IoOptions& o = {});
  // Accepts one connection. On EMFILE/ENFILE pauses accepting for options().accept_pause while
  // other tasks keep running, logs one line to stderr per episode, and retries.
  Task<Result<UniqueFd>> accept(int listen_fd, IoOptions o = {});
  ConnectAwaiter connect(int fd, const sockaddr* addr, socklen_t len, const IoOptions& o = {});
  // A nonblocking TCP socket connected to `addr`.
  Task<Result<UniqueFd>> dial(const sockaddr* addr, socklen_t len, IoOptions o = {});
  OpAwaiter<std::size_t> read(int fd, std::span<std::byte> buf, const IoOptions& o = {});
  OpAwaiter<std::size_t> write(int fd, std::span<const std::byte> buf, const IoOptions& o = {});
  // The next bytes that arrive on `fd`, in a loop-owned buffer (bounded per loop and per fd).
  OpAwaiter<RecvBuffer> recv(int fd, const IoOptions& o = {});
  // io_uring: send_zc, completing once the kernel has released `buf` (reusable then). Other
  // backends: a plain send.
  OpAwaiter<std::size_t> send_zc(int fd, std::span<const std::byte> buf, const IoOptions& o = {});
  // Moves up to `len` bytes from `in` to `out`, one of them a pipe, as splice(2) with
  // SPLICE_F_MOVE | SPLICE_F_NONBLOCK does: EAGAIN is returned, never waited on (only the caller
  // knows which side to wait for). io_uring: an IORING_OP_SPLICE, which the kernel runs on one of
  // its io-wq worker threads; epoll: the system call, made at once. ENOSYS without splice(2).
  SpliceAwaiter splice(int in, int out, std::size_t len, const IoOptions& o = {});
  Task<Result<void>> write_all(int fd, std::span<const std::byte> buf, IoOptions o = {});
  Task<Result<void>> read_exact(int fd, std::span<std::byte> buf, IoOptions o = {});
  OpAwaiter<void> sleep_until(Clock::time_point when, CancelToken cancel = {});
  OpAwaiter<void> sleep_for(Clock::duration d, CancelToken cancel = {});
  OpAwaiter<void> yield();

  // Drops what the backend keeps for `fd` (pending operations complete with ECANCELED, queued
  // connections and buffers are released), then closes it.
  void close(UniqueFd fd);
  void forget(int fd);
  // The caller's own nonblocking call on `fd` (a recv or send it made itself) just failed with
  // EAGAIN: the backend drops any readiness it remembers for `dir`, so the next wait for `dir`
  // waits for a new event instead of completing at once on an edge already consumed (epoll and
  // poll; io_uring remembers none).
  void would_block(int fd, Direction dir) noexcept;
  // When the loop last came back from waiting for events (one clock read per turn): when what
  // this turn runs became ready, give or take the turn's own work, without a clock read each.
  Clock::time_point woke() const noexcept { return woke_; }
  // Like forget(), but only if no operation waits on `fd` now; a later wait registers it again.
  // For fds that may close without the loop knowing (a strategy's internal ring or pipe).
  void release_if_idle(int fd);

  // Internal (awaiters and backends).
  bool try_now(detail::Op& op);
  void start(detail::Op& op, std::coroutine_handle<> h);
  void complete(detail::Op& op);
  void cancel(detail::Op& op);
  void on_detached_exception(std::exception_ptr e) noexcept;
  detail::DetachedPromise*& detached_list() noexcept { return detached_; }

 private:
  Loop(LoopOptions options, BackendKind kind, std::unique_ptr<detail::Backend> backend);
  void run_until(const bool* done);
  void turn(const bool* done);
  void arm_timer(detail::Op& op);

  LoopOptions options_;
  BackendKind kind_;
  std::unique_ptr<detail::Backend> backend_;
  std::unique_ptr<detail::TimerHeap> timers_;
  std::deque<detail::Op*> ready_ops_;
  std::deque<std::coroutine_handle<>> ready_tasks_;
  detail::DetachedPromise* detached_ = nullptr;  // intrusive list of live spawned tasks
  std::size_t live_tasks_ = 0;
  std::exception_ptr failure_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> shutdown_requested_{false};
  CancelSource shutdown_;
  std::uint64_t ops_completed_ = 0;
  Clock::time_point woke_ = Clock::now();
  friend struct detail::DetachedPromise;
};

template <class R>
bool OpAwaiter<R>::await_ready() {
  return op_.loop->try_now(op_);
}
template <class R>
void OpAwaiter<R>::await_suspend(std::coroutine_handle<> h) {
  op_.loop->start(op_, h);
}

namespace detail {
template <class T, class Out>
Task<void> capture_into(Task<T> task, Out& out, bool& finished) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(task);
    out.emplace(true);
  } else {
    out.emplace(co_await std::move(task));
  }
  finished = true;
}
}  // namespace detail

template <class T>
T Loop::block_on(Task<T> task) {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> out;
  bool finished = false;
  spawn(detail::capture_into(std::move(task), out, finished));
  run_until(&finished);
  if (!finished) throw std::runtime_error("zcnet: loop stopped before the task ended");
  if constexpr (!std::is_void_v<T>) return std::move(*out);
}

// Moves `transfer` to its end: calls step(budget) and, when a step says it would block on
// {fd, dir}, waits for that readiness (io_uring strategies: their ring fd, readable when
// completions are waiting). The deadline and token in `o` cover the whole transfer.
Task<Result<Stats>> transfer(Loop& loop, Transfer& transfer, IoOptions o = {},
                             std::uint64_t budget = 4 * 1024 * 1024);

// RLIMIT_NOFILE soft limit raised to the hard limit (done once by Loop::create). Returns the
// soft limit now in force.
Result<std::uint64_t> raise_nofile_limit();

struct ListenOptions {
  int backlog = 4096;
  bool reuse_port = false;  // SO_REUSEPORT: one listener per loop thread on the same port
  // With reuse_port, for the first listener of a group: fail with EADDRINUSE when any other
  // socket already holds the port, as a listener without SO_REUSEPORT would. SO_REUSEPORT lets
  // any process of the same user join a port and take a share of its connections; this keeps a
  // second server from joining a running one. (Port 0 needs no check.)
  bool sole_owner = false;
};
// A nonblocking TCP listener on `ip` ("127.0.0.1", "::", ...) and `port` (0 = ephemeral).
Result<UniqueFd> listen_tcp(std::string_view ip, std::uint16_t port, ListenOptions o = {});
Result<std::uint16_t> local_port(int fd);

}  // namespace zcnet

// The loop core: ready queues, spawned tasks, timers and cancellation. Everything that touches the
// kernel is behind detail::Backend.
#include "zcnet/loop/loop.hpp"

#include <cerrno>
#include <string>

#include "loop/backend.hpp"
#include "loop/timer_heap.hpp"

namespace zcnet {

namespace detail {

// A spawned task's driver: owns the user's Task, frees its own frame when done (final_suspend
// never suspends) and sits in the loop's intrusive list while alive, so ~Loop can destroy what
// is still suspended.
struct DetachedPromise {
  Loop* loop;
  DetachedPromise* prev = nullptr;
  DetachedPromise* next = nullptr;

  DetachedPromise(Loop& l, Task<void>&) : loop(&l) {
    DetachedPromise*& head = l.detached_list();
    next = head;
    if (head) head->prev = this;
    head = this;
    ++l.live_tasks_;
  }
  ~DetachedPromise() {
    if (prev)
      prev->next = next;
    else
      loop->detached_list() = next;
    if (next) next->prev = prev;
    --loop->live_tasks_;
  }
  struct Detached {
    using promise_type = DetachedPromise;
    std::coroutine_handle<DetachedPromise> h;
  };
  Detached get_return_object() noexcept {
    return {std::coroutine_handle<DetachedPromise>::from_promise(*this)};
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() const noexcept {}
  void unhandled_exception() const noexcept {
    loop->on_detached_exception(std::current_exception());
  }
};

}  // namespace detail

namespace {

detail::DetachedPromise::Detached drive(Loop&, Task<void> task) {
  co_await std::move(task);
}

const char* op_name(detail::OpCode c) noexcept {
  using detail::OpCode;
  switch (c) {
    case OpCode::Poll:
      return "poll";
    case OpCode::Accept:
      return "accept";
    case OpCode::Connect:
      return "connect";
    case OpCode::Read:
      return "read";
    case OpCode::Write:
      return "write";
    case OpCode::Recv:
      return "recv";
    case OpCode::SendZc:
      return "send_zc";
    case OpCode::Splice:
      return "splice";
    case OpCode::Sleep:
      return "sleep";
    case OpCode::Yield:
      return "yield";
  }
  return "op";
}

void on_op_deadline(detail::TimerNode& t) {
  auto& op = *static_cast<detail::Op*>(t.owner);
  if (op.code == detail::OpCode::Sleep) {
    op.res = 0;
    op.loop->complete(op);
    return;
  }
  op.timed_out = true;
  op.loop->cancel(op);
}

void on_op_cancel(detail::CancelLink& l) {
  auto& op = *static_cast<detail::Op*>(l.owner);
  op.cancel_requested = true;
  op.loop->cancel(op);
}

}  // namespace

Error detail::op_error(const Op& op) {
  int code = -op.res;
  bool interrupted = code == ECANCELED || code == EINTR;
  if (interrupted && !op.cancel_requested &&
      (op.timed_out || (op.deadline != Clock::time_point::max() && Clock::now() >= op.deadline)))
    code = ETIMEDOUT;
  return Error(code, op_name(op.code), op.fd >= 0 ? "fd " + std::to_string(op.fd) : std::string());
}

BackendKind auto_backend() noexcept {
  return detail::resolve_backend(BackendKind::Auto);
}

Result<std::unique_ptr<Loop>> Loop::create(LoopOptions options) {
  static const bool raised = raise_nofile_limit().has_value();
  (void)raised;
  BackendKind kind = detail::resolve_backend(options.backend);
  std::unique_ptr<Loop> loop(new Loop(options, kind, nullptr));
  auto backend = detail::make_backend(kind, *loop, options);
  if (!backend) return std::move(backend).error();
  loop->backend_ = std::move(*backend);
  return loop;
}

Loop::Loop(LoopOptions options, BackendKind kind, std::unique_ptr<detail::Backend> backend)
    : options_(options),
      kind_(kind),
      backend_(std::move(backend)),
      timers_(std::make_unique<detail::TimerHeap>()) {}

Loop::~Loop() {
  // Order matters: the kernel must be done with every op and buffer before frames go, and the
  // backend must outlive the frames (a RecvBuffer in a frame gives its buffer back to it).
  if (backend_) backend_->drain();
  timers_->clear();
  ready_ops_.clear();
  while (detached_) {
    std::coroutine_handle<detail::DetachedPromise>::from_promise(*detached_).destroy();
  }
  ready_tasks_.clear();
  backend_.reset();
}

LoopStats Loop::stats() const noexcept {
  LoopStats s = backend_->stats();
  s.ops = ops_completed_;
  return s;
}

void Loop::spawn(Task<void> task) {
  auto d = drive(*this, std::move(task));
  ready_tasks_.push_back(d.h);
}

void Loop::run() {
  run_until(nullptr);
}

void Loop::stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  if (backend_) backend_->wake();
}

void Loop::request_shutdown() noexcept {
  shutdown_requested_.store(true, std::memory_order_release);
  if (backend_) backend_->wake();
}

void Loop::on_detached_exception(std::exception_ptr e) noexcept {
  if (!failure_) failure_ = e;
}

void Loop::run_until(const bool* done) {
  for (;;) {
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
    if (stop_requested_.exchange(false, std::memory_order_acq_rel)) return;
    if (done ? *done : live_tasks_ == 0) return;
    turn(done);
  }
}

// One turn: resume what is ready (only what was ready when the turn began, so I/O is polled
// between batches), fire due timers, then ask the backend for events.
void Loop::turn(const bool* done) {
  std::size_t ops = ready_ops_.size();
  for (std::size_t i = 0; i < ops && !failure_; ++i) {
    detail::Op* op = ready_ops_.front();
    ready_ops_.pop_front();
    ++ops_completed_;
    op->waiter.resume();
  }
  std::size_t tasks = ready_tasks_.size();
  for (std::size_t i = 0; i < tasks && !failure_; ++i) {
    auto h = ready_tasks_.front();
    ready_tasks_.pop_front();
    h.resume();
  }
  if (shutdown_requested_.exchange(false, std::memory_order_acq_rel)) shutdown_.cancel();

  auto now = Clock::now();
  while (detail::TimerNode* t = timers_->top()) {
    if (t->when > now) break;
    timers_->remove(*t);
    t->fire(*t);
  }

  bool finished = done ? *done : live_tasks_ == 0;
  std::optional<std::chrono::nanoseconds> timeout;
  if (finished || !ready_ops_.empty() || !ready_tasks_.empty() || failure_ ||
      stop_requested_.load(std::memory_order_acquire)) {
    timeout = std::chrono::nanoseconds(0);
  } else if (detail::TimerNode* t = timers_->top()) {
    timeout = std::max(std::chrono::nanoseconds(0), t->when - Clock::now());
  }
  // A far deadline (time_point::max() = none) must not overflow the backends' arithmetic.
  if (timeout && *timeout > std::chrono::hours(1)) timeout = std::chrono::hours(1);
  backend_->wait(timeout);
  woke_ = Clock::now();
}

void Loop::arm_timer(detail::Op& op) {
  op.timer.when = op.deadline;
  op.timer.owner = &op;
  op.timer.fire = on_op_deadline;
  timers_->push(op.timer);
}

bool Loop::try_now(detail::Op& op) {
  using detail::OpCode;
  if (op.token.cancelled()) {
    op.cancel_requested = true;
    op.res = -ECANCELED;
    return true;
  }
  switch (op.code) {
    case OpCode::Yield:
      return false;
    case OpCode::Sleep:
      if (op.deadline > Clock::now()) return false;
      op.res = 0;
      return true;
    default:
      if (op.deadline <= Clock::now()) {
        op.timed_out = true;
        op.res = -ETIMEDOUT;
        return true;
      }
      return backend_->try_now(op);
  }
}

void Loop::start(detail::Op& op, std::coroutine_handle<> h) {
  using detail::OpCode;
  op.waiter = h;
  op.res = 0;
  if (op.code == OpCode::Yield) {
    ready_ops_.push_back(&op);
    return;
  }
  if (detail::CancelState* s = op.token.state()) {
    op.cancel_link.owner = &op;
    op.cancel_link.on_cancel = on_op_cancel;
    s->add(op.cancel_link);
  }
  if (op.code == OpCode::Sleep) {
    arm_timer(op);
    return;
  }
  if (op.deadline != Clock::time_point::max() && !backend_->native_deadline(op)) arm_timer(op);
  backend_->submit(op);
}

void Loop::complete(detail::Op& op) {
  timers_->remove(op.timer);
  op.cancel_link.unlink();
  ready_ops_.push_back(&op);
}

void Loop::cancel(detail::Op& op) {
  using detail::OpCode;
  if (op.code == OpCode::Yield) return;  // completes on its own this turn
  if (op.code == OpCode::Sleep) {
    op.res = -ECANCELED;
    complete(op);
    return;
  }
  backend_->cancel(op);
}

void Loop::forget(int fd) {
  backend_->forget(fd);
}
void Loop::would_block(int fd, Direction dir) noexcept {
  backend_->would_block(fd, dir);
}
void Loop::release_if_idle(int fd) {
  backend_->release_if_idle(fd);
}

void Loop::close(UniqueFd fd) {
  if (!fd) return;
  backend_->forget(fd.get());
  fd.reset();
}

}  // namespace zcnet

// LoopThreads: the worker threads behind the StaticServer and Proxy handles. A LoopGroup (one
// zcnet loop per thread) running one task per loop, and how Python waits for its end: join()
// (GIL released) or done_fd, an eventfd that turns readable when every worker thread has ended,
// which zcnet.aio registers with the asyncio loop.
//
// A worker's end is its thread's end, signalled by a thread_local guard, not the end of its
// task: after stop() the task never resumes (block_on throws "loop stopped before the task
// ended") and its frame is destroyed only with the loops, inside LoopGroup::join().
#pragma once

#include <nanobind/nanobind.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "zcnet/loop/loop_group.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::py {

class LoopThreads {
 public:
  using Main = std::function<Task<void>(Loop& loop, std::size_t index)>;

  // `workers` 0: one per CPU.
  explicit LoopThreads(std::size_t workers)
      : workers_(workers ? workers : std::max(1u, std::thread::hardware_concurrency())) {
    done_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!done_fd_) raise(last_error("eventfd"));
  }
  // Stops the workers at once and joins them (the GIL released meanwhile).
  ~LoopThreads() {
    if (!group_) return;
    stop();
    nanobind::gil_scoped_release nogil;
    try {
      join_group();
    } catch (...) {  // a destructor cannot report it; join() earlier to see it
    }
  }
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;

  std::size_t workers() const noexcept { return workers_; }
  int done_fd() const noexcept { return done_fd_.get(); }

  // One SO_REUSEPORT listener per worker on host:port, appended to `out`; port 0 becomes the
  // first listener's ephemeral port, which the others then share. Returns the port.
  std::uint16_t listen_each(const std::string& host, std::uint16_t port,
                            std::vector<UniqueFd>& out) const {
    ListenOptions lo;
    lo.reuse_port = true;
    for (std::size_t i = 0; i < workers_; ++i) {
      lo.sole_owner = i == 0;  // EADDRINUSE if another server holds the port
      out.push_back(check(listen_tcp(host, port, lo)));
      if (port == 0) port = check(local_port(out.back().get()));
    }
    return port;
  }

  void start(Main main, const char* what, BackendKind backend = BackendKind::Auto) {
    if (group_) throw nanobind::value_error((std::string(what) + " already started").c_str());
    LoopGroupOptions go;
    go.threads = workers_;
    go.loop.backend = backend;
    group_ = std::make_unique<LoopGroup>(go);
    left_ = workers_;
    auto started = group_->start([this, main = std::move(main)](Loop& loop, std::size_t i) {
      // On worker i's own thread (LoopGroup calls main there): its exit signals the end.
      thread_local ThreadEnd end;
      end.owner = this;
      return main(loop, i);
    });
    if (!started) {
      group_.reset();  // no thread started: nothing to wait for
      raise(started.error());
    }
  }
  // Graceful: cancels every loop's shutdown token.
  void shutdown() noexcept {
    if (group_) group_->request_shutdown();
  }
  // Abrupt: ends every loop now; what was still open is destroyed (its fds closed) at the join.
  void stop() noexcept {
    if (group_) {
      stopped_ = true;
      group_->stop();
    }
  }
  // True once every worker has ended (then the threads are joined and the loops destroyed);
  // false after `timeout_s` seconds. Rethrows an exception a worker let escape.
  bool join(double timeout_s) {
    if (!group_) return true;
    nanobind::gil_scoped_release nogil;
    {
      std::unique_lock lock(mu_);
      const auto limit = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
      if (!ended_.wait_for(lock, limit, [this] { return left_ == 0; })) return false;
    }
    join_group();
    return true;
  }

 private:
  struct ThreadEnd {
    LoopThreads* owner = nullptr;
    ThreadEnd() = default;
    ThreadEnd(const ThreadEnd&) = delete;
    ThreadEnd& operator=(const ThreadEnd&) = delete;
    ~ThreadEnd() {
      if (owner) owner->thread_ended();
    }
  };

  void thread_ended() {
    std::lock_guard lock(mu_);
    if (--left_ == 0) {
      std::uint64_t one = 1;
      (void)!::write(done_fd_.get(), &one, sizeof one);
      ended_.notify_all();
    }
  }
  // Joins the threads once; rethrows what a worker let escape, except the "loop stopped before
  // the task ended" that stop() causes in every worker.
  void join_group() {
    std::call_once(joined_, [this] {
      try {
        group_->join();
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!stopped_) failure_ = std::current_exception();
      }
    });
    std::exception_ptr failure;
    {
      std::lock_guard lock(mu_);
      failure = std::exchange(failure_, nullptr);
    }
    if (failure) std::rethrow_exception(failure);
  }

  std::size_t workers_;
  UniqueFd done_fd_;
  std::unique_ptr<LoopGroup> group_;
  std::mutex mu_;
  std::condition_variable ended_;
  std::size_t left_ = 0;
  std::once_flag joined_;
  std::atomic<bool> stopped_{false};
  std::exception_ptr failure_;
};

// The Python methods every LoopThreads handle (StaticServer, Proxy) has, bound alike: H has
// start(), shutdown(), stop(), join(seconds), port() and done_fd().
template <class H>
void def_loop_threads_handle(nanobind::class_<H>& c, const char* shutdown_doc) {
  c.def("start", &H::start, "Start the worker threads.")
      .def("shutdown", &H::shutdown, shutdown_doc)
      .def("stop", &H::stop, "Immediate stop.")
      .def("join", &H::join, nanobind::arg("timeout"),
           "Wait (GIL released) for every worker; False after timeout seconds.")
      .def_prop_ro("port", &H::port, "The listening port.")
      .def_prop_ro("done_fd", &H::done_fd, "eventfd, readable once every worker ended.");
}

}  // namespace zcnet::py

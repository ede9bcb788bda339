// zcnet._zcnet.StaticServer: the C++ http::Server on its own zcnet loop threads (LoopGroup, one
// SO_REUSEPORT listener per thread, as `zcnet serve` runs it). Python waits on it through
// join() (GIL released) or through done_fd, an eventfd that turns readable when every worker
// has ended, which zcnet.aio registers with the asyncio loop.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "zcnet/http/server.hpp"
#include "zcnet/loop/loop_group.hpp"

namespace nb = nanobind;

namespace zcnet::py {

namespace {

std::chrono::milliseconds ms(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

class StaticServer {
 public:
  StaticServer(const std::string& root, const std::string& host, std::uint16_t port,
               std::size_t workers, const std::string& strategy, std::size_t max_connections,
               double keepalive_timeout, double grace) {
    http::ServerOptions o;
    o.root = root;
    auto kind = parse_strategy(strategy);
    if (!kind) throw nb::value_error(("unknown strategy '" + strategy + "'").c_str());
    o.strategy = *kind;
    o.max_connections = max_connections;
    o.keepalive_timeout = ms(keepalive_timeout);
    o.shutdown_grace = ms(grace);
    server_ = check(http::Server::open(std::move(o)));
    workers_ = workers ? workers : std::max(1u, std::thread::hardware_concurrency());
    ListenOptions lo;
    lo.reuse_port = true;
    port_ = port;
    for (std::size_t i = 0; i < workers_; ++i) {
      listeners_.push_back(check(listen_tcp(host, port_, lo)));
      if (port_ == 0) port_ = check(local_port(listeners_.back().get()));
    }
    done_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!done_fd_) raise(last_error("eventfd"));
  }
  ~StaticServer() {
    if (group_) {
      group_->stop();
      nb::gil_scoped_release nogil;
      join_group();
    }
  }

  void start() {
    if (group_) throw nb::value_error("server already started");
    LoopGroupOptions go;
    go.threads = workers_;
    group_ = std::make_unique<LoopGroup>(go);
    left_ = workers_;
    auto started = group_->start([this](Loop& loop, std::size_t i) -> Task<void> {
      return run_worker(loop, std::move(listeners_[i]));
    });
    if (!started) raise(started.error());
  }
  // Graceful: stop accepting, let responses in flight finish within the grace period.
  void shutdown() {
    if (group_) group_->request_shutdown();
  }
  void stop() {
    if (group_) group_->stop();
  }
  // True once every worker has ended (then the threads are joined); false after `timeout` s.
  bool join(double timeout_s) {
    if (!group_) return true;
    nb::gil_scoped_release nogil;
    {
      std::unique_lock lock(mu_);
      if (!ended_.wait_for(lock, ms(timeout_s), [this] { return left_ == 0; })) return false;
    }
    join_group();
    return true;
  }
  std::uint16_t port() const noexcept { return port_; }
  int done_fd() const noexcept { return done_fd_.get(); }
  std::size_t connections() const noexcept { return server_->connections(); }

 private:
  Task<void> run_worker(Loop& loop, UniqueFd listener) {
    auto run = server_->run(loop, std::move(listener));
    co_await std::move(run);
    worker_ended();
  }
  void worker_ended() {
    std::lock_guard lock(mu_);
    if (--left_ == 0) {
      std::uint64_t one = 1;
      (void)!::write(done_fd_.get(), &one, sizeof one);
      ended_.notify_all();
    }
  }
  void join_group() {
    std::call_once(joined_, [this] { group_->join(); });
  }

  std::unique_ptr<http::Server> server_;
  std::vector<UniqueFd> listeners_;
  std::size_t workers_ = 1;
  std::uint16_t port_ = 0;
  UniqueFd done_fd_;
  std::unique_ptr<LoopGroup> group_;
  std::mutex mu_;
  std::condition_variable ended_;
  std::size_t left_ = 0;
  std::once_flag joined_;
};

}  // namespace

void bind_static_server(nb::module_& m) {
  nb::class_<StaticServer>(m, "StaticServer",
                           "zcnet's HTTP/1.1 static file server on its own loop threads.")
      .def(nb::init<const std::string&, const std::string&, std::uint16_t, std::size_t,
                    const std::string&, std::size_t, double, double>(),
           nb::arg("root"), nb::arg("host"), nb::arg("port"), nb::arg("workers"),
           nb::arg("strategy"), nb::arg("max_connections"), nb::arg("keepalive_timeout"),
           nb::arg("grace"))
      .def("start", &StaticServer::start, "Start the worker threads.")
      .def("shutdown", &StaticServer::shutdown, "Graceful stop (grace period for responses).")
      .def("stop", &StaticServer::stop, "Immediate stop.")
      .def("join", &StaticServer::join, nb::arg("timeout"),
           "Wait (GIL released) for every worker; False after timeout seconds.")
      .def_prop_ro("port", &StaticServer::port, "The listening port.")
      .def_prop_ro("done_fd", &StaticServer::done_fd, "eventfd, readable once every worker ended.")
      .def_prop_ro("connections", &StaticServer::connections, "Connections open now.");
}

}  // namespace zcnet::py

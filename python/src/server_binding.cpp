// zcnet._zcnet.StaticServer: the C++ http::Server on its own zcnet loop threads (LoopThreads: a
// LoopGroup, one SO_REUSEPORT listener per thread, as `zcnet serve` runs it). Python waits on it
// through join() (GIL released) or through done_fd, an eventfd that turns readable when every
// worker has ended, which zcnet.aio registers with the asyncio loop.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <chrono>
#include <vector>

#include "errors.hpp"
#include "loop_threads.hpp"
#include "zcnet/http/server.hpp"

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
               double keepalive_timeout, double grace, const std::string& trace_file,
               const std::string& trace_sample)
      : threads_(workers) {
    http::ServerOptions o;
    o.root = root;
    auto kind = parse_strategy(strategy);
    if (!kind) throw nb::value_error(("unknown strategy '" + strategy + "'").c_str());
    o.strategy = *kind;
    o.max_connections = max_connections;
    o.keepalive_timeout = ms(keepalive_timeout);
    o.shutdown_grace = ms(grace);
    if (!trace_file.empty())
      o.tracer = check(Tracer::open({.file = trace_file, .sample = trace_sample}));
    server_ = check(http::Server::open(std::move(o)));
    port_ = threads_.listen_each(host, port, listeners_);
  }

  void start() {
    threads_.start(
        [this](Loop& loop, std::size_t i) -> Task<void> {
          return server_->run(loop, std::move(listeners_[i]));
        },
        "server");
  }
  // Graceful: stop accepting, let responses in flight finish within the grace period.
  void shutdown() { threads_.shutdown(); }
  void stop() { threads_.stop(); }
  // True once every worker has ended (then the threads are joined); false after `timeout` s.
  bool join(double timeout_s) { return threads_.join(timeout_s); }
  std::uint16_t port() const noexcept { return port_; }
  int done_fd() const noexcept { return threads_.done_fd(); }
  std::size_t connections() const noexcept { return server_->connections(); }
  std::string metrics() const {
    std::string out;
    server_->write_metrics(out);
    return out;
  }

 private:
  std::unique_ptr<http::Server> server_;
  std::vector<UniqueFd> listeners_;
  std::uint16_t port_ = 0;
  LoopThreads threads_;  // last: stopped and joined before the server and listeners go
};

}  // namespace

void bind_static_server(nb::module_& m) {
  nb::class_<StaticServer> c(m, "StaticServer",
                             "zcnet's HTTP/1.1 static file server on its own loop threads.");
  c.def(nb::init<const std::string&, const std::string&, std::uint16_t, std::size_t,
                 const std::string&, std::size_t, double, double, const std::string&,
                 const std::string&>(),
        nb::arg("root"), nb::arg("host"), nb::arg("port"), nb::arg("workers"), nb::arg("strategy"),
        nb::arg("max_connections"), nb::arg("keepalive_timeout"), nb::arg("grace"),
        nb::arg("trace_file"), nb::arg("trace_sample"))
      .def_prop_ro("connections", &StaticServer::connections, "Connections open now.")
      .def("metrics", &StaticServer::metrics,
           "The server's metrics in the Prometheus text format (what zcnet serve --metrics "
           "serves).");
  def_loop_threads_handle(c, "Graceful stop (grace period for responses).");
}

}  // namespace zcnet::py

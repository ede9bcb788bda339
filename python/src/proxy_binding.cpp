// zcnet._zcnet.Proxy: the C++ proxy::Proxy (the TCP gateway `zcnet proxy` runs) on its own zcnet
// loop threads (LoopThreads: a LoopGroup, one SO_REUSEPORT listener per thread, one run() per
// loop, the active health checks on loop 0). Python waits on it through join() (GIL released) or
// through done_fd, an eventfd that turns readable when every worker has ended, which zcnet.aio
// registers with the asyncio loop. Same surface as the StaticServer handle (server_binding.cpp),
// plus metrics().
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "errors.hpp"
#include "loop_threads.hpp"
#include "zcnet/proxy/proxy.hpp"

namespace nb = nanobind;

namespace zcnet::py {

namespace {

// Seconds (>= 0; `positive`: > 0) as milliseconds, or ValueError naming the argument.
std::chrono::milliseconds seconds(double s, const char* name, bool positive = false) {
  if (std::isnan(s) || s < 0 || (positive && s == 0))
    throw nb::value_error(
        (std::string(name) + " must be " + (positive ? "> 0" : ">= 0") + " seconds").c_str());
  // At most 10^9 s (inf included): the milliseconds stay in range.
  const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(std::min(s, 1e9) * 1000));
  // A positive value below 1 ms would become 0 (for the proxy: "none" or "at once").
  return positive && ms.count() == 0 ? std::chrono::milliseconds(1) : ms;
}

// One upstream: "HOST:PORT" or a tuple (address[, weight[, backup]]).
proxy::UpstreamOptions upstream_from(nb::handle item) {
  proxy::UpstreamOptions u;
  if (nb::isinstance<nb::str>(item)) {
    u.address = nb::cast<std::string>(item);
    return u;
  }
  if (!nb::isinstance<nb::tuple>(item) && !nb::isinstance<nb::list>(item))
    throw nb::type_error(
        "an upstream is a 'HOST:PORT' string or an (address, weight, backup) tuple");
  const std::size_t n = nb::len(item);
  if (n < 1 || n > 3)
    throw nb::type_error("an upstream tuple is (address, weight, backup): 1 to 3 items");
  nb::object address = item[0];
  if (!nb::isinstance<nb::str>(address))
    throw nb::type_error("an upstream tuple's address must be a 'HOST:PORT' string");
  u.address = nb::cast<std::string>(address);
  if (n >= 2) {
    nb::object weight = item[1];
    if (!nb::isinstance<nb::int_>(weight) || nb::isinstance<nb::bool_>(weight))
      throw nb::type_error(("upstream " + u.address + ": weight must be an int").c_str());
    const long long w = PyLong_AsLongLong(weight.ptr());
    if (w == -1 && PyErr_Occurred()) throw nb::python_error();
    // Proxy::open checks the range (1..256); here only what fits the field.
    u.weight = w < 0 || w > UINT_MAX ? 0u : static_cast<unsigned>(w);
  }
  if (n == 3) {
    const int b = PyObject_IsTrue(item[2].ptr());
    if (b < 0) throw nb::python_error();
    u.backup = b != 0;
  }
  return u;
}

std::vector<proxy::UpstreamOptions> upstreams_from(nb::handle upstreams) {
  std::vector<proxy::UpstreamOptions> out;
  if (nb::isinstance<nb::str>(upstreams)) {  // one upstream, not its characters
    out.push_back(upstream_from(upstreams));
    return out;
  }
  for (nb::handle item : upstreams) out.push_back(upstream_from(item));
  return out;
}

class Proxy {
 public:
  Proxy(const std::string& host, std::uint16_t port, nb::handle upstreams,
        const std::string& balance, std::size_t workers, const std::string& path,
        std::size_t max_connections, double connect_timeout, double idle_timeout, double grace,
        double health_interval, const std::string& health_path, const std::string& send_proxy,
        const std::string& mirror, const std::string& trace_file, const std::string& trace_sample)
      : threads_(workers) {
    proxy::ListenerOptions l;
    l.upstreams = upstreams_from(upstreams);
    auto b = proxy::parse_balance(balance);
    if (!b)
      throw nb::value_error(
          ("unknown balance '" + balance + "' (valid: roundrobin, leastconn, source)").c_str());
    l.balance = *b;
    l.health.interval = seconds(health_interval, "health_interval");
    l.health.http_path = health_path;
    auto h = proxy::parse_proxy_header(send_proxy);
    if (!h)
      throw nb::value_error(
          ("unknown send_proxy '" + send_proxy + "' (valid: none, v1, v2)").c_str());
    l.send_proxy = *h;
    l.mirror.target = mirror;

    proxy::ProxyOptions o;
    auto p = proxy::parse_data_path(path);
    if (!p)
      throw nb::value_error(
          ("unknown path '" + path + "' (valid: auto, splice, uring-splice, copy)").c_str());
    o.path = *p;
    uring_path_ = *p == proxy::DataPath::UringSplice;
    o.max_connections = max_connections;
    o.connect_timeout = seconds(connect_timeout, "connect_timeout", true);
    o.idle_timeout = seconds(idle_timeout, "idle_timeout", true);
    o.shutdown_grace = seconds(grace, "grace");
    if (!trace_file.empty())
      o.tracer = check(Tracer::open({.file = trace_file, .sample = trace_sample}));

    port_ = threads_.listen_each(host, port, listeners_);
    // The listener's name in metrics and logs: the address it listens on.
    const bool v6 = host.find(':') != std::string::npos;
    l.listen = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port_);
    o.listeners.push_back(std::move(l));
    proxy_ = check(proxy::Proxy::open(std::move(o)));
  }

  // One run() per loop, each with its own listener; the active health checks on loop 0.
  void start() {
    threads_.start(
        [this](Loop& loop, std::size_t i) -> Task<void> {
          std::vector<UniqueFd> mine;
          mine.push_back(std::move(listeners_[i]));
          return proxy_->run(loop, std::move(mine), i == 0);
        },
        "proxy", uring_path_ ? BackendKind::Uring : proxy::Proxy::preferred_backend());
  }
  // Graceful: stop accepting, let open connections go on within the grace period.
  void shutdown() { threads_.shutdown(); }
  void stop() { threads_.stop(); }
  bool join(double timeout_s) { return threads_.join(timeout_s); }
  std::string metrics() const {
    std::string out;
    {
      nb::gil_scoped_release nogil;  // takes the proxy's lock, which workers hold briefly
      proxy_->write_metrics(out);
    }
    return out;
  }
  std::uint16_t port() const noexcept { return port_; }
  int done_fd() const noexcept { return threads_.done_fd(); }
  std::size_t connections() const noexcept { return proxy_->connections(); }

 private:
  bool uring_path_ = false;  // uring-splice: the loops run on io_uring
  std::unique_ptr<proxy::Proxy> proxy_;
  std::vector<UniqueFd> listeners_;
  std::uint16_t port_ = 0;
  LoopThreads threads_;  // last: stopped and joined before the proxy and listeners go
};

}  // namespace

void bind_proxy(nb::module_& m) {
  nb::class_<Proxy> c(m, "Proxy", "zcnet's TCP proxy (zcnet::proxy) on its own loop threads.");
  c.def(
       nb::init<const std::string&, std::uint16_t, nb::handle, const std::string&, std::size_t,
                const std::string&, std::size_t, double, double, double, double, const std::string&,
                const std::string&, const std::string&, const std::string&, const std::string&>(),
       nb::arg("host"), nb::arg("port"), nb::arg("upstreams"), nb::arg("balance"),
       nb::arg("workers"), nb::arg("path"), nb::arg("max_connections"), nb::arg("connect_timeout"),
       nb::arg("idle_timeout"), nb::arg("grace"), nb::arg("health_interval"),
       nb::arg("health_path"), nb::arg("send_proxy"), nb::arg("mirror"), nb::arg("trace_file"),
       nb::arg("trace_sample"))
      .def("metrics", &Proxy::metrics, "The proxy's metrics in the Prometheus text format.")
      .def_prop_ro("connections", &Proxy::connections, "Client connections open now.");
  def_loop_threads_handle(c, "Graceful stop (grace period for open connections).");
}

}  // namespace zcnet::py

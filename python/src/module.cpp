// zcnet._zcnet: the binding module. Python-facing argument handling (sockets, file objects,
// paths) lives in the pure-Python package; this module takes fds.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "errors.hpp"
#include "zcnet/observe/process_metrics.hpp"
#include "zcnet/observe/prometheus.hpp"
#include "zcnet/observe/syscall_timing.hpp"
#include "zcnet/version.hpp"

namespace nb = nanobind;

namespace zcnet::py {
void bind_transfers(nb::module_& m);
void bind_buffer_pool(nb::module_& m);
void bind_static_server(nb::module_& m);
void bind_proxy(nb::module_& m);
}  // namespace zcnet::py

NB_MODULE(_zcnet, m) {
  m.doc() = "zcnet's C++ engine (use the zcnet package, not this module)";
  // OSError(errno, message): OSError's constructor picks the subclass from the errno.
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const zcnet::py::OsError& e) {
      nb::object args = nb::make_tuple(e.code, e.message);
      PyErr_SetObject(PyExc_OSError, args.ptr());
    }
  });
  m.attr("__version__") = ZCNET_VERSION;
  zcnet::py::bind_transfers(m);
  zcnet::py::bind_buffer_pool(m);
  zcnet::py::bind_static_server(m);
  zcnet::py::bind_proxy(m);
  m.def(
      "process_metrics",
      [] {
        std::string out;
        zcnet::PrometheusText p(out);
        zcnet::write_syscall_metrics(p);
        zcnet::write_process_metrics(p);
        return out;
      },
      "The process-wide families (syscall timing, process_*) in the Prometheus text format.");
  m.def("set_syscall_timing", &zcnet::set_syscall_timing, nb::arg("on"),
        "Per-syscall timing histograms on or off (zcnet_syscall_duration_seconds).");
  m.def("syscall_timing", &zcnet::syscall_timing, "Whether per-syscall timing is on.");
}

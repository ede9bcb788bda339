// zcnet._zcnet.BufferPool: pool buffers exposed through the buffer protocol (memoryview,
// sock.recv_into, file.readinto) with no copy. A Buffer goes back to the pool on release(), at
// the end of a `with` block, or when it is garbage-collected; release() while a memoryview still
// exports it raises BufferError (as bytearray's resize does), so no view outlives the memory.
#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <utility>

#include "errors.hpp"
#include "zcnet/pool/buffer_pool.hpp"

namespace nb = nanobind;

namespace zcnet::py {

namespace {

class PyBufferPool;

class PyBuffer {
 public:
  // Invariant: `pool_` outlives `buf_` (the shared_ptr keeps the pool alive while a buffer lives).
  PyBuffer(std::shared_ptr<BufferPool> pool, PoolBuffer buf, std::size_t size)
      : pool_(std::move(pool)), buf_(std::move(buf)), size_(size) {}

  void release() {
    if (exports_ > 0)
      throw nb::builtin_exception(nb::exception_type::buffer_error,
                                  "zcnet.Buffer: release() while a memoryview still uses it");
    buf_ = PoolBuffer();
    size_ = 0;
  }
  bool released() const noexcept { return !buf_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return buf_ ? buf_.capacity() : 0; }

  static int get_buffer(PyObject* self, Py_buffer* view, int flags) {
    PyBuffer* b = nb::inst_ptr<PyBuffer>(nb::handle(self));
    if (!b->buf_) {
      PyErr_SetString(PyExc_ValueError, "zcnet.Buffer: already released to its pool");
      view->obj = nullptr;
      return -1;
    }
    if (PyBuffer_FillInfo(view, self, b->buf_.data(), static_cast<Py_ssize_t>(b->size_), 0,
                          flags) != 0)
      return -1;
    ++b->exports_;
    return 0;
  }
  static void release_buffer(PyObject* self, Py_buffer*) {
    --nb::inst_ptr<PyBuffer>(nb::handle(self))->exports_;
  }

 private:
  std::shared_ptr<BufferPool> pool_;
  PoolBuffer buf_;
  std::size_t size_;
  std::size_t exports_ = 0;  // live memoryviews / Py_buffer views (the GIL guards it)
};

class PyBufferPool {
 public:
  PyBufferPool(std::vector<std::size_t> class_sizes, std::size_t buffers_per_class,
               std::size_t max_buffers_per_class) {
    PoolOptions o;
    if (!class_sizes.empty()) o.class_sizes = std::move(class_sizes);
    o.buffers_per_class = buffers_per_class;
    o.max_buffers_per_class = max_buffers_per_class;
    o.policy = ExhaustionPolicy::Grow;
    pool_ = std::make_shared<BufferPool>(std::move(o));
  }
  PyBuffer acquire(std::size_t size) {
    PoolBuffer b = check(pool_->acquire(size));
    if (size == 0 || size > b.capacity()) size = b.capacity();
    return PyBuffer(pool_, std::move(b), size);
  }
  nb::dict stats() const {
    PoolStats s = pool_->stats();
    nb::dict d;
    d["buffers"] = s.buffers;
    d["in_use"] = s.in_use;
    d["high_water"] = s.high_water;
    d["acquires"] = s.acquires;
    d["failures"] = s.failures;
    return d;
  }

 private:
  std::shared_ptr<BufferPool> pool_;
};

PyType_Slot buffer_slots[] = {
    {Py_bf_getbuffer, reinterpret_cast<void*>(&PyBuffer::get_buffer)},
    {Py_bf_releasebuffer, reinterpret_cast<void*>(&PyBuffer::release_buffer)},
    {0, nullptr}};

}  // namespace

void bind_buffer_pool(nb::module_& m) {
  nb::class_<PyBuffer>(m, "Buffer", nb::type_slots(buffer_slots),
                       "A pool buffer; supports the buffer protocol without copies.")
      .def("release", &PyBuffer::release, "Give the buffer back to its pool now.")
      .def_prop_ro("released", &PyBuffer::released, "True once back in the pool.")
      .def_prop_ro("capacity", &PyBuffer::capacity, "Bytes in the pool slot (>= len).")
      .def("__len__", &PyBuffer::size, "Bytes the buffer exposes.")
      .def(
          "__enter__", [](nb::handle self) { return nb::borrow(self); }, "Returns the buffer.")
      .def(
          "__exit__", [](PyBuffer& b, nb::args) { b.release(); }, "release()");

  nb::class_<PyBufferPool>(m, "BufferPool", "Pre-allocated buffers in size classes.")
      .def(nb::init<std::vector<std::size_t>, std::size_t, std::size_t>(), nb::arg("class_sizes"),
           nb::arg("buffers_per_class"), nb::arg("max_buffers_per_class"))
      .def("acquire", &PyBufferPool::acquire, nb::arg("size"),
           "A buffer of `size` bytes (0: the whole class) from the smallest class that fits.")
      .def("stats", &PyBufferPool::stats, "buffers, in_use, high_water, acquires, failures.");
}

}  // namespace zcnet::py

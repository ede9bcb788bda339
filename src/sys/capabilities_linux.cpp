// Runtime probe of what this kernel allows, paid once per process: the one place io_uring is
// probed (strategies and the loop backend read the result).
#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "sys/uring_linux.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet {

namespace {

bool socket_accepts_zerocopy() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  return s && ::setsockopt(s.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) == 0;
}

// A provided-buffer ring (kernel 5.19+, which also brings multishot accept and recv) can be
// registered: the io_uring loop backend receives into one.
bool buffer_ring_registers(io_uring* ring) {
  constexpr std::size_t kPage = 4096;
  void* mem = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = 1;
  reg.bgid = 0;
  bool ok = io_uring_register_buf_ring(ring, &reg, 0) == 0;
  if (ok) io_uring_unregister_buf_ring(ring, 0);
  ::munmap(mem, kPage);
  return ok;
}

void probe_uring(Capabilities& c) {
  sys::UringRing ring;
  if (int rc = ring.init(8); rc < 0) {  // disabled by sysctl, seccomp or an old kernel
    c.uring_setup_errno = -rc;
    return;
  }
  c.io_uring = true;
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> p{io_uring_get_probe_ring(ring.get()),
                                                               io_uring_free_probe};
  if (p) {
    auto has = [&](int op) { return io_uring_opcode_supported(p.get(), op) != 0; };
    c.uring_send = has(IORING_OP_SEND);
    c.uring_send_zc = has(IORING_OP_SEND_ZC);
    c.uring_splice = has(IORING_OP_SPLICE);
    c.uring_loop = true;
    for (int op : {IORING_OP_POLL_ADD, IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_READ,
                   IORING_OP_SEND, IORING_OP_RECV, IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT})
      c.uring_loop = c.uring_loop && has(op);
  }
  c.uring_loop = c.uring_loop && buffer_ring_registers(ring.get());
  alignas(4096) static char page[4096];
  iovec iov{page, sizeof page};
  if (io_uring_register_buffers(ring.get(), &iov, 1) == 0) {
    c.uring_fixed_buffers = true;
    io_uring_unregister_buffers(ring.get());
  }
}

Capabilities probe_now() {
  Capabilities c;
  c.sendfile = c.splice = c.tee = true;  // every kernel this code builds for has them
  c.msg_zerocopy = socket_accepts_zerocopy();
  probe_uring(c);
  std::ifstream pipe_max("/proc/sys/fs/pipe-max-size");
  if (std::size_t n = 0; pipe_max >> n) c.pipe_max_bytes = n;
  utsname u{};
  if (::uname(&u) == 0) c.kernel = u.release;
  if (const char* off = std::getenv("ZCNET_DISABLE")) c.disable_list(off);
  return c;
}

}  // namespace

const Capabilities& Capabilities::probe() {
  static const Capabilities caps = probe_now();  // thread-safe static init: probed once
  return caps;
}

}  // namespace zcnet

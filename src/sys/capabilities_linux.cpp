// Runtime probe of what this kernel allows, paid once per process.
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <string_view>

#include "zcnet/capabilities.hpp"
#include "zcnet/fd.hpp"

namespace zcnet {

namespace {

bool socket_accepts_zerocopy() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  return s && ::setsockopt(s.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) == 0;
}

void probe_uring(Capabilities& c) {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return;  // disabled by sysctl, seccomp or old kernel
  c.io_uring = true;
  if (io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
    c.uring_send_zc = io_uring_opcode_supported(p, IORING_OP_SEND_ZC);
    c.uring_splice = io_uring_opcode_supported(p, IORING_OP_SPLICE);
    io_uring_free_probe(p);
  }
  alignas(4096) static char page[4096];
  iovec iov{page, sizeof page};
  if (io_uring_register_buffers(&ring, &iov, 1) == 0) {
    c.uring_fixed_buffers = true;
    io_uring_unregister_buffers(&ring);
  }
  io_uring_queue_exit(&ring);
}

void apply_disable_list(Capabilities& c, std::string_view list) {
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (name == "io_uring" || name == "uring") {
      c.io_uring = c.uring_send_zc = c.uring_splice = c.uring_fixed_buffers = false;
    } else if (auto k = parse_strategy(name)) {
      c = c.without(*k);
    }
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
  if (const char* off = std::getenv("ZCNET_DISABLE")) apply_disable_list(c, off);
  return c;
}

}  // namespace

const Capabilities& Capabilities::probe() {
  static const Capabilities caps = probe_now();  // thread-safe static init: probed once
  return caps;
}

}  // namespace zcnet

#include "sys/splice_linux.hpp"

#include <sys/ioctl.h>

#include <limits>

#include "sys/faults.hpp"
#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::sys {

namespace {

bool fits_loff_t(std::uint64_t offset) noexcept {
  return offset <= static_cast<std::uint64_t>(std::numeric_limits<loff_t>::max());
}

}  // namespace

IoResult splice(int in_fd, std::uint64_t* in_offset, int out_fd, std::uint64_t* out_offset,
                std::size_t len, unsigned flags) noexcept {
  if ((in_offset && !fits_loff_t(*in_offset)) || (out_offset && !fits_loff_t(*out_offset)))
    return IoResult{0, EOVERFLOW};
  const SyscallTimer timer(Syscall::Splice);
  for (;;) {
    loff_t in_off = in_offset ? static_cast<loff_t>(*in_offset) : 0;
    loff_t out_off = out_offset ? static_cast<loff_t>(*out_offset) : 0;
    const faults::Injected f = faults::inject(Syscall::Splice, len, {in_fd, out_fd});
    IoResult r = f.err ? IoResult{0, f.err}
                       : io_result(::splice(in_fd, in_offset ? &in_off : nullptr, out_fd,
                                            out_offset ? &out_off : nullptr, f.len, flags));
    if (r.err == EINTR) continue;
    if (r.ok()) {
      if (in_offset) *in_offset = static_cast<std::uint64_t>(in_off);
      if (out_offset) *out_offset = static_cast<std::uint64_t>(out_off);
    }
    return r;
  }
}

IoResult tee(int in_fd, int out_fd, std::size_t len, unsigned flags) noexcept {
  const SyscallTimer timer(Syscall::Tee);
  for (;;) {
    const faults::Injected f = faults::inject(Syscall::Tee, len, {in_fd, out_fd});
    IoResult r = f.err ? IoResult{0, f.err} : io_result(::tee(in_fd, out_fd, f.len, flags));
    if (r.err != EINTR) return r;
  }
}

IoResult set_pipe_size(int pipe_fd, std::size_t bytes) noexcept {
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) return IoResult{0, EINVAL};
  return io_result(::fcntl(pipe_fd, F_SETPIPE_SZ, static_cast<int>(bytes)));
}

IoResult pipe_size(int pipe_fd) noexcept {
  return io_result(::fcntl(pipe_fd, F_GETPIPE_SZ));
}

IoResult bytes_readable(int fd) noexcept {
  int n = 0;
  if (::ioctl(fd, FIONREAD, &n) != 0) return IoResult{0, errno};
  return IoResult{static_cast<std::size_t>(n < 0 ? 0 : n), 0};
}

}  // namespace zcnet::sys

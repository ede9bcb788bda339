#include "sys/sendfile_linux.hpp"

#include <sys/sendfile.h>
#include <unistd.h>

#include <limits>

#include "sys/faults.hpp"
#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::sys {

namespace {

bool fits_off_t(std::uint64_t offset) noexcept {
  return offset <= static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
}

}  // namespace

IoResult sendfile(int out_fd, int in_fd, std::uint64_t& in_offset, std::size_t len) noexcept {
  if (!fits_off_t(in_offset)) return IoResult{0, EOVERFLOW};
  const SyscallTimer timer(Syscall::Sendfile);
  for (;;) {
    auto off = static_cast<off_t>(in_offset);
    const faults::Injected f = faults::inject(Syscall::Sendfile, len, {out_fd});
    IoResult r = f.err ? IoResult{0, f.err} : io_result(::sendfile(out_fd, in_fd, &off, f.len));
    if (r.err == EINTR) continue;
    if (r.ok()) in_offset = static_cast<std::uint64_t>(off);
    return r;
  }
}

IoResult copy_file_range(int in_fd, std::uint64_t& in_offset, int out_fd, std::uint64_t& out_offset,
                         std::size_t len) noexcept {
  if (!fits_off_t(in_offset) || !fits_off_t(out_offset)) return IoResult{0, EOVERFLOW};
  const SyscallTimer timer(Syscall::CopyFileRange);
  for (;;) {
    auto in_off = static_cast<off_t>(in_offset);
    auto out_off = static_cast<off_t>(out_offset);
    const faults::Injected f = faults::inject(Syscall::CopyFileRange, len, {});
    IoResult r = f.err ? IoResult{0, f.err}
                       : io_result(::copy_file_range(in_fd, &in_off, out_fd, &out_off, f.len, 0));
    if (r.err == EINTR) continue;
    if (r.ok()) {
      in_offset = static_cast<std::uint64_t>(in_off);
      out_offset = static_cast<std::uint64_t>(out_off);
    }
    return r;
  }
}

}  // namespace zcnet::sys

// The loop's Splice operation on the epoll and poll() reactors: the system call itself.
#include <fcntl.h>

#include "loop/reactor.hpp"
#include "sys/faults.hpp"
#include "sys/sigpipe_posix.hpp"
#include "zcnet/sys/syscall_timing.hpp"

namespace zcnet::detail {

long splice_now(int in, int out, std::size_t len) noexcept {
  sys::SigpipeBlock no_sigpipe;  // splice has no MSG_NOSIGNAL
  const sys::SyscallTimer timer(sys::Syscall::Splice);
  const sys::faults::Injected f = sys::faults::inject(sys::Syscall::Splice, len, {in, out});
  if (f.err) {
    errno = f.err;
    return -1;
  }
  return ::splice(in, nullptr, out, nullptr, f.len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

}  // namespace zcnet::detail

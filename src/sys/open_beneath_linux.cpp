// openat2(RESOLVE_BENEATH): the kernel refuses (EXDEV) any resolution that leaves the root,
// through "..", an absolute symlink or a magic link, with no race between check and open.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "sys/faults.hpp"
#include "sys/open_beneath.hpp"

namespace zcnet::sys {

Result<UniqueFd> open_beneath(int root_fd, const char* rel) {
  if (int err = faults::inject_fd(faults::FdCall::Open)) return Error(err, "openat2", rel);
  // Latched once the kernel says ENOSYS (before 5.6, or filtered by seccomp).
  static std::atomic<bool> no_openat2{false};
  if (!no_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
      long fd = ::syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof how);
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      if (errno == EAGAIN || errno == EINTR) continue;  // EAGAIN: a rename raced the lookup
      if (errno != ENOSYS) return last_error("openat2", rel);
      no_openat2.store(true, std::memory_order_relaxed);
      break;
    }
  }
  return open_checked_by_realpath(root_fd, rel);
}

}  // namespace zcnet::sys

// The realpath check behind open_beneath where openat2 is missing: openat(), then the opened
// file's real path must lie below the root's.
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "sys/faults.hpp"
#include "sys/open_beneath.hpp"

namespace zcnet::sys {

Result<UniqueFd> open_checked_by_realpath(int root_fd, const char* rel) {
  if (int err = faults::inject_fd(faults::FdCall::Open)) return Error(err, "openat", rel);
  UniqueFd fd(::openat(root_fd, *rel ? rel : ".", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return last_error("openat", rel);
  // Error path and fallback only: the kernel lacks openat2, so two readlinks per open.
  auto real = [](int f) -> std::string {
    char link[64], buf[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", f);
    ssize_t n = ::readlink(link, buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  std::string root = real(root_fd), file = real(fd.get());
  if (root.empty() || file.empty()) return Error(EXDEV, "open beneath", rel);
  if (root == "/") return fd;
  if (file != root && (file.compare(0, root.size(), root) != 0 || file[root.size()] != '/'))
    return Error(EXDEV, "open beneath", std::string(rel) + " resolves outside the root");
  return fd;
}

}  // namespace zcnet::sys

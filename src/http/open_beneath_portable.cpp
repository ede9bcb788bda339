// Without openat2: open, then check that the file's real path lies below the root's.
#include "http/path.hpp"

namespace zcnet::http {

Result<UniqueFd> open_beneath(int root_fd, const char* rel) {
  return detail::open_checked_by_realpath(root_fd, rel);
}

}  // namespace zcnet::http

// Without openat2: open, then check that the file's real path lies below the root's.
#include "sys/open_beneath.hpp"

namespace zcnet::sys {

Result<UniqueFd> open_beneath(int root_fd, const char* rel) {
  return open_checked_by_realpath(root_fd, rel);
}

}  // namespace zcnet::sys

// memfd_create: an anonymous file in memory, never on a filesystem.
#include <sys/mman.h>

#include "http/directory.hpp"

namespace zcnet::http {

Result<UniqueFd> anonymous_file() {
  UniqueFd fd(::memfd_create("zcnet-listing", MFD_CLOEXEC));
  if (!fd) return last_error("memfd_create", "directory listing");
  return fd;
}

}  // namespace zcnet::http

// memfd_create: an anonymous file in memory, never on a filesystem.
#include <sys/mman.h>

#include "sys/anonymous_file.hpp"

namespace zcnet::sys {

Result<UniqueFd> anonymous_file(const char* name) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return last_error("memfd_create", name);
  return fd;
}

}  // namespace zcnet::sys

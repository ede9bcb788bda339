// Without memfd: a temp file unlinked as soon as it is created.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "sys/anonymous_file.hpp"

namespace zcnet::sys {

Result<UniqueFd> anonymous_file(const char* name) {
  const char* dir = ::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/" + name + "-XXXXXX";
  UniqueFd fd(::mkstemp(path.data()));
  if (!fd) return last_error("mkstemp", path);
  ::unlink(path.c_str());
  ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace zcnet::sys

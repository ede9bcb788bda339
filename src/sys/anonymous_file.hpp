// Private: an unlinked, anonymous read-write file (memfd on Linux, anonymous_file_linux.cpp; an
// unlinked temp file in $TMPDIR elsewhere, anonymous_file_portable.cpp).
#pragma once

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::sys {

// `name` labels the file (the memfd's name, the temp file's prefix) and the error's context.
Result<UniqueFd> anonymous_file(const char* name);

}  // namespace zcnet::sys

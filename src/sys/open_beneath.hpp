// Private: opening a path beneath a directory fd, refusing every resolution that leaves it.
// openat2(RESOLVE_BENEATH) on Linux (open_beneath_linux.cpp); elsewhere, and where the kernel
// lacks openat2, openat() and a check of the opened file's real path (open_beneath_posix.cpp).
#pragma once

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::sys {

// Opens the NUL-terminated root-relative `rel` ("" is the root itself) beneath the directory
// `root_fd`, read-only and nonblocking (a FIFO never blocks the loop). EXDEV: the path (through a
// symlink, "..", or a magic link) leaves the root.
Result<UniqueFd> open_beneath(int root_fd, const char* rel);

// The portable check behind open_beneath: openat(), then the opened file's real path must be
// below the root's real path (two readlinks of /proc/self/fd per open).
Result<UniqueFd> open_checked_by_realpath(int root_fd, const char* rel);

}  // namespace zcnet::sys

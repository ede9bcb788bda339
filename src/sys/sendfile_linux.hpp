// Private: in-kernel file copies. Offsets are explicit and advanced by the kernel; the fds'
// positions are never used or moved.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "sys/rw_posix.hpp"

namespace zcnet::sys {

// sendfile(2) from `in_fd` at `in_offset` (advanced by the bytes sent) to any `out_fd` the kernel
// accepts (socket, pipe; a regular file is written at its position: use copy_file_range).
// No MSG_NOSIGNAL exists for it: hold a SigpipeBlock. n == 0 with len > 0: `in_fd` ended.
IoResult sendfile(int out_fd, int in_fd, std::uint64_t& in_offset, std::size_t len) noexcept;

// A first sendfile (or copy_file_range) failing with one of these means "not for this pair of
// fds": nothing was sent, and another strategy may move the bytes instead.
inline bool sendfile_unsupported(int err) noexcept {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EXDEV;
}

// copy_file_range(2): regular file to regular file, both offsets explicit (pwrite semantics on
// the sink). EXDEV, EINVAL or EOPNOTSUPP when this pair of files cannot do it.
IoResult copy_file_range(int in_fd, std::uint64_t& in_offset, int out_fd, std::uint64_t& out_offset,
                         std::size_t len) noexcept;

}  // namespace zcnet::sys

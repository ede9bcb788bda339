// Private: splice(2), tee(2) and pipe sizing. Offsets are explicit for files (advanced by the
// kernel) and nullptr for pipes and sockets. None of these has MSG_NOSIGNAL: a caller writing to a
// socket or pipe holds a SigpipeBlock.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>

#include "sys/rw_posix.hpp"

namespace zcnet::sys {

// One end must be a pipe. n == 0 with len > 0: the source ended (EOF, or a pipe with no writer).
IoResult splice(int in_fd, std::uint64_t* in_offset, int out_fd, std::uint64_t* out_offset,
                std::size_t len, unsigned flags) noexcept;

// Duplicates up to `len` bytes from pipe `in_fd` into pipe `out_fd` without consuming them.
IoResult tee(int in_fd, int out_fd, std::size_t len, unsigned flags) noexcept;

// F_SETPIPE_SZ: n = the capacity the kernel granted (may exceed `bytes`: rounded to pages).
IoResult set_pipe_size(int pipe_fd, std::size_t bytes) noexcept;
// F_GETPIPE_SZ.
IoResult pipe_size(int pipe_fd) noexcept;

// FIONREAD: bytes waiting to be read in a pipe or socket receive queue.
IoResult bytes_readable(int fd) noexcept;

}  // namespace zcnet::sys

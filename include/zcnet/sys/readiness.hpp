// What an fd is waited on for: the one vocabulary strategies (which report what they would block
// on) and the loop (which waits for it) share, so neither layer needs the other's headers.
#pragma once

#include <cstdint>

namespace zcnet {

enum class Direction : std::uint8_t { Read, Write };

// What a step stopped on: `fd` would block for `dir`. For io_uring strategies the fd is the ring's
// own fd, readable when completions are waiting.
struct Wait {
  int fd = -1;
  Direction dir = Direction::Read;
};

}  // namespace zcnet

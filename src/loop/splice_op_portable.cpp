// Systems without splice(2): the loop's Splice operation fails with ENOSYS.
#include <cerrno>

#include "loop/reactor.hpp"

namespace zcnet::detail {

long splice_now(int, int, std::size_t) noexcept {
  errno = ENOSYS;
  return -1;
}

}  // namespace zcnet::detail

#include <sys/utsname.h>

#include "zcnet/sys/capabilities.hpp"

namespace zcnet {

const Capabilities& Capabilities::probe() {
  static const Capabilities caps = [] {
    Capabilities c = Capabilities::portable();
    utsname u{};
    if (::uname(&u) == 0) c.kernel = u.release;
    return c;
  }();
  return caps;
}

}  // namespace zcnet

// Which capabilities each strategy needs: the transfer layer's reading of what sys probed.
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {

bool allows(const Capabilities& caps, StrategyKind k) noexcept {
  switch (k) {
    case StrategyKind::ReadWrite:
    case StrategyKind::Mmap:
    case StrategyKind::Auto:
      return true;
    case StrategyKind::Sendfile:
      return caps.sendfile;
    case StrategyKind::Splice:
      return caps.splice;
    case StrategyKind::Tee:
      return caps.splice && caps.tee;
    case StrategyKind::MsgZerocopy:
      return caps.msg_zerocopy;
    case StrategyKind::UringSend:
      return caps.io_uring && caps.uring_send;
    case StrategyKind::UringSendZc:
      return caps.io_uring && caps.uring_send_zc;
    case StrategyKind::UringSplice:
      return caps.io_uring && caps.uring_splice;
  }
  return false;
}

Capabilities without(Capabilities caps, StrategyKind k) noexcept {
  caps.disable(to_string(k));  // read-write, mmap and auto are not names it turns off
  return caps;
}

}  // namespace zcnet

#include "zcnet/capabilities.hpp"

namespace zcnet {

Capabilities Capabilities::portable() {
  return Capabilities{};
}

bool Capabilities::allows(StrategyKind k) const noexcept {
  switch (k) {
    case StrategyKind::ReadWrite:
    case StrategyKind::Mmap:
    case StrategyKind::Auto:
      return true;
    case StrategyKind::Sendfile:
      return sendfile;
    case StrategyKind::Splice:
      return splice;
    case StrategyKind::Tee:
      return splice && tee;
    case StrategyKind::MsgZerocopy:
      return msg_zerocopy;
    case StrategyKind::UringSend:
      return io_uring;
    case StrategyKind::UringSendZc:
      return io_uring && uring_send_zc;
    case StrategyKind::UringSplice:
      return io_uring && uring_splice;
  }
  return false;
}

Capabilities Capabilities::without(StrategyKind k) const {
  Capabilities c = *this;
  switch (k) {
    case StrategyKind::Sendfile:
      c.sendfile = false;
      break;
    case StrategyKind::Splice:
      c.splice = false;
      break;
    case StrategyKind::Tee:
      c.tee = false;
      break;
    case StrategyKind::MsgZerocopy:
      c.msg_zerocopy = false;
      break;
    case StrategyKind::UringSend:
      c.io_uring = false;
      break;
    case StrategyKind::UringSendZc:
      c.uring_send_zc = false;
      break;
    case StrategyKind::UringSplice:
      c.uring_splice = false;
      break;
    default:
      break;  // read-write and mmap are the floor: always there
  }
  return c;
}

}  // namespace zcnet

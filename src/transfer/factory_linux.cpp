#include "transfer/strategies.hpp"

namespace zcnet {

Result<std::unique_ptr<Strategy>> make_strategy(StrategyKind kind, const Source& src,
                                                const Sink& dst, const StrategyContext& ctx) {
  switch (kind) {
    case StrategyKind::ReadWrite:
      return detail::make_read_write(src, dst, ctx);
    case StrategyKind::Mmap:
      return detail::make_mmap(src, dst, ctx);
    case StrategyKind::Sendfile:
      return detail::make_sendfile(src, dst, ctx);
    case StrategyKind::Splice:
      return detail::make_splice(src, dst, ctx);
    case StrategyKind::Tee:
      return detail::make_tee(src, dst, ctx);
    case StrategyKind::MsgZerocopy:
      return detail::make_msg_zerocopy(src, dst, ctx);
    case StrategyKind::UringSend:
      return detail::make_uring_send(src, dst, ctx);
    case StrategyKind::UringSendZc:
      return detail::make_uring_send_zc(src, dst, ctx);
    case StrategyKind::UringSplice:
      return detail::make_uring_splice(src, dst, ctx);
    case StrategyKind::Auto:
      break;
  }
  return detail::unsupported_pair(kind, src, dst);
}

}  // namespace zcnet

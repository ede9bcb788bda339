// Portable build: only the POSIX strategies exist; every Linux mechanism reports EOPNOTSUPP so
// the selector falls back to read-write.
#include "transfer/strategies.hpp"

namespace zcnet {

Result<std::unique_ptr<Strategy>> make_strategy(StrategyKind kind, const Source& src,
                                                const Sink& dst, const StrategyContext& ctx) {
  switch (kind) {
    case StrategyKind::ReadWrite:
      return detail::make_read_write(src, dst, ctx);
    case StrategyKind::Mmap:
      return detail::make_mmap(src, dst, ctx);
    default:
      break;
  }
  return detail::unsupported_pair(kind, src, dst);
}

}  // namespace zcnet

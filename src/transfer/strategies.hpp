// Private: one factory per strategy, each defined in its own file (src/transfer/<name>_*.cpp).
// Each returns EOPNOTSUPP when it cannot move bytes between these endpoint kinds or the kernel
// lacks what it needs (ctx.caps), so the selector can fall back with nothing consumed.
#pragma once

#include <memory>

#include "zcnet/sys/error.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::detail {

using StrategyPtr = std::unique_ptr<Strategy>;

Result<StrategyPtr> make_read_write(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_mmap(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_sendfile(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_splice(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_tee(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_msg_zerocopy(const Source& src, const Sink& dst,
                                      const StrategyContext& ctx);
Result<StrategyPtr> make_uring_send(const Source& src, const Sink& dst, const StrategyContext& ctx);
Result<StrategyPtr> make_uring_send_zc(const Source& src, const Sink& dst,
                                       const StrategyContext& ctx);
Result<StrategyPtr> make_uring_splice(const Source& src, const Sink& dst,
                                      const StrategyContext& ctx);

// EOPNOTSUPP error naming the strategy and the endpoint kinds, for factories to return.
Error unsupported_pair(StrategyKind k, const Source& src, const Sink& dst);

}  // namespace zcnet::detail

#include "zcnet/observe/pool_metrics.hpp"

#include "zcnet/observe/prometheus.hpp"

namespace zcnet {

namespace {

using Cell = PoolGauges::Cell;

template <class Part>
std::uint64_t sum(std::span<const PoolGauges* const> workers, const Part PoolGauges::*part,
                  const Cell Part::*cell) {
  std::uint64_t n = 0;
  for (const PoolGauges* g : workers) n += ((*g).*part.*cell).load(std::memory_order_relaxed);
  return n;
}

}  // namespace

void write_pool_metrics(PrometheusText& p, std::span<const PoolGauges* const> workers) {
  using B = PoolGauges::Buffers;
  using P = PoolGauges::Pipes;
  using M = PoolGauges::Mappings;
  const auto buf = [&](const Cell B::*c) { return sum(workers, &PoolGauges::buffers, c); };
  const auto pipe = [&](const Cell P::*c) { return sum(workers, &PoolGauges::pipes, c); };
  const auto map = [&](const Cell M::*c) { return sum(workers, &PoolGauges::mappings, c); };

  p.family("zcnet_buffer_pool_buffers", "gauge",
           "Pooled buffers by state: allocated, in use (held by a connection or the kernel), and "
           "of those lent to the kernel until a zero-copy completion.");
  p.sample("zcnet_buffer_pool_buffers", {{"state", "allocated"}}, buf(&B::allocated));
  p.sample("zcnet_buffer_pool_buffers", {{"state", "in_use"}}, buf(&B::in_use));
  p.sample("zcnet_buffer_pool_buffers", {{"state", "lent_to_kernel"}}, buf(&B::lent_to_kernel));
  p.family("zcnet_buffer_pool_acquires_total", "counter",
           "Buffer requests, by how they ended: at once, after waiting for a buffer to come back, "
           "or refused (ENOBUFS: the pool at its cap).");
  const std::uint64_t acquires = buf(&B::acquires), waits = buf(&B::waits),
                      failures = buf(&B::failures);
  p.sample("zcnet_buffer_pool_acquires_total", {{"result", "waited"}}, waits);
  p.sample("zcnet_buffer_pool_acquires_total", {{"result", "refused"}}, failures);
  p.sample("zcnet_buffer_pool_acquires_total", {{"result", "immediate"}},
           acquires >= waits + failures ? acquires - waits - failures : 0);

  p.family("zcnet_pipe_pool_pipes", "gauge", "Splice pipes by state: idle in the pool or leased.");
  p.sample("zcnet_pipe_pool_pipes", {{"state", "idle"}}, pipe(&P::idle));
  p.sample("zcnet_pipe_pool_pipes", {{"state", "leased"}}, pipe(&P::leased));
  p.family("zcnet_pipe_pool_acquires_total", "counter",
           "Pipe leases, by how they were met: an idle pipe reused, a new pipe made, or refused "
           "(the cap on leased pipes: the caller copies instead).");
  p.sample("zcnet_pipe_pool_acquires_total", {{"result", "reused"}}, pipe(&P::reused));
  p.sample("zcnet_pipe_pool_acquires_total", {{"result", "created"}}, pipe(&P::created));
  p.sample("zcnet_pipe_pool_acquires_total", {{"result", "refused"}}, pipe(&P::refused));
  p.family("zcnet_pipe_pool_discarded_total", "counter",
           "Pipes closed instead of pooled because they still held data.");
  p.sample("zcnet_pipe_pool_discarded_total", {}, pipe(&P::discarded_nonempty));

  bool mappings = false;
  for (const PoolGauges* g : workers) mappings = mappings || g->has_mappings;
  if (!mappings) return;
  p.family("zcnet_mapping_cache_lookups_total", "counter",
           "File mappings asked of the cache: hit, miss (a new mapping) or bypassed (not a file "
           "to cache: empty, too large, not regular).");
  p.sample("zcnet_mapping_cache_lookups_total", {{"result", "hit"}}, map(&M::hits));
  p.sample("zcnet_mapping_cache_lookups_total", {{"result", "miss"}}, map(&M::misses));
  p.sample("zcnet_mapping_cache_lookups_total", {{"result", "bypassed"}}, map(&M::bypassed));
  p.family("zcnet_mapping_cache_evictions_total", "counter",
           "Mappings dropped: over the bounds, idle, replaced, or no longer cacheable.");
  p.sample("zcnet_mapping_cache_evictions_total", {}, map(&M::evictions));
  p.family("zcnet_mapping_cache_entries", "gauge", "Files mapped in the cache now.");
  p.sample("zcnet_mapping_cache_entries", {}, map(&M::entries));
  p.family("zcnet_mapping_cache_mapped_bytes", "gauge", "Bytes of file mapped by the cache now.");
  p.sample("zcnet_mapping_cache_mapped_bytes", {}, map(&M::mapped_bytes));
}

}  // namespace zcnet

// zcnet::PoolGauges: one worker's buffer pool, pipe pool and mapping cache as a scrape sees them,
// copied in by the worker's own thread on each watchdog tick (the mapping cache is not
// thread-safe, so a scrape never reads the pools themselves). Summed over the workers by
// write_pool_metrics.
//
//   gauges.sample(engine.buffers().stats(), engine.pipes().stats());
//   gauges.sample_mappings(engine.mappings().stats());
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

namespace zcnet {

class PrometheusText;

struct PoolGauges {
  using Cell = std::atomic<std::uint64_t>;
  struct Buffers {
    Cell allocated{0}, in_use{0}, lent_to_kernel{0}, acquires{0}, waits{0}, failures{0};
  } buffers;
  struct Pipes {
    Cell created{0}, reused{0}, refused{0}, discarded_nonempty{0}, idle{0}, leased{0};
  } pipes;
  struct Mappings {
    Cell hits{0}, misses{0}, bypassed{0}, evictions{0}, entries{0}, mapped_bytes{0};
  } mappings;
  bool has_mappings = false;  // set before the block is shared: a worker with a mapping cache

  // From the pools' stats structs (zcnet/pool/*.hpp): templates, so that this layer needs none
  // of the pool layer.
  template <class BufferStats, class PipeStats>
  void sample(const BufferStats& b, const PipeStats& p) noexcept {
    put(buffers.allocated, b.buffers);
    put(buffers.in_use, b.in_use);
    put(buffers.lent_to_kernel, b.lent_to_kernel);
    put(buffers.acquires, b.acquires);
    put(buffers.waits, b.waits);
    put(buffers.failures, b.failures);
    put(pipes.created, p.created);
    put(pipes.reused, p.reused);
    put(pipes.refused, p.refused);
    put(pipes.discarded_nonempty, p.discarded_nonempty);
    put(pipes.idle, p.idle);
    put(pipes.leased, p.leased);
  }
  template <class MappingStats>
  void sample_mappings(const MappingStats& m) noexcept {
    put(mappings.hits, m.hits);
    put(mappings.misses, m.misses);
    put(mappings.bypassed, m.bypassed);
    put(mappings.evictions, m.evictions);
    put(mappings.entries, m.entries);
    put(mappings.mapped_bytes, m.mapped_bytes);
  }

 private:
  static void put(Cell& c, std::uint64_t v) noexcept { c.store(v, std::memory_order_relaxed); }
};

// The zcnet_buffer_pool_*, zcnet_pipe_pool_* and (when any worker has one) zcnet_mapping_cache_*
// families, summed over `workers`.
void write_pool_metrics(PrometheusText& p, std::span<const PoolGauges* const> workers);

}  // namespace zcnet

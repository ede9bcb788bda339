// One direction of a relayed connection (a Flow: bytes from one socket to the other) and its
// mirror. Splice: socket -> leased pipe -> socket, the pipe filled only when empty so that an
// EAGAIN from the fill means "the socket is empty" and one from the drain "the sink is full",
// never a busy loop; the pipe goes back to the pool whenever the source is idle, so an idle
// connection holds none. Copy: a pool buffer, taken once the source is readable and given back
// when it is empty again. Either way no more is read than the sink took (backpressure).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "proxy/config.hpp"
#include "proxy/worker.hpp"
#include "zcnet/loop/loop.hpp"
#include "zcnet/pool/pipe_pool.hpp"

namespace zcnet::proxy {

// How a flow ended.
enum class End : std::uint8_t {
  Eof,        // the source sent FIN: every byte reached the sink
  Reset,      // the source reset (or failed) while reading
  SinkGone,   // the sink refused bytes (EPIPE, ECONNRESET)
  Cancelled,  // idle timeout, shutdown, or the other direction's reset
};

// A copy of one flow's bytes on its way to a mirror target (one per flow and connection; loop
// thread only). It never makes the flow wait: what the mirror cannot take at once is dropped,
// counted, and the mirror connection cut and opened again later.
class Mirror {
 public:
  Mirror(Worker& w, const MirrorTarget& target) : w_(w), target_(target) {}
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Splice path: duplicates the `n` bytes `pipe_read_fd` holds (all it holds) with tee(2).
  void tee(int pipe_read_fd, std::size_t n);
  // Copy path.
  void copy(std::span<const std::byte> bytes);
  // Moves pending bytes on to the mirror socket as far as it takes them now.
  void flush();
  // The flow ended: pending bytes get up to `within` to reach the mirror, then it is closed.
  Task<void> finish(Loop& loop, Clock::duration within);

 private:
  bool ready();  // connected (or connecting), opened again if allowed; false: drop
  // Copy path: keeps bytes the mirror's socket did not take in the backlog (the mirror pipe, or
  // memory without splice), behind what is already there; false when they do not fit (or no
  // pipe can be leased): the caller cuts.
  bool hold(std::span<const std::byte> bytes);
  std::size_t backlog() const noexcept;  // tcp: bytes held for the mirror, not yet sent
  void discard_backlog() noexcept;       // an idle or cut mirror holds no pipe and no buffer
  void cut(std::uint64_t dropped_now);
  void drop(std::uint64_t n);

  Worker& w_;
  const MirrorTarget& target_;
  UniqueFd sock_;                // tcp: the mirror connection
  PipeLease pending_;            // tcp, with splice: duplicated bytes not yet taken by the mirror
  std::vector<std::byte> held_;  // tcp, without splice: the same, in memory (same bound)
  Clock::time_point retry_at_{};
};

struct Flow {
  int from = -1;
  int to = -1;
  Way way = Way::ToUpstream;
  UpstreamState* upstream = nullptr;  // byte counters
  ConnState* conn = nullptr;          // `moved` for the idle watchdog
  Mirror* mirror = nullptr;
  bool uring = false;  // splices are io_uring operations (DataPath::UringSplice)
  std::uint64_t spliced = 0;
  std::uint64_t copied = 0;
  End end = End::Eof;
  int error = 0;  // errno behind Reset / SinkGone
  std::uint64_t bytes() const noexcept { return spliced + copied; }
};

// Moves `f` until its source ends or it fails; sets f.end. `splice`: try the pipe path (false,
// or no pipe to lease: copy).
Task<void> pump(Worker& w, Flow& f, bool splice, const CancelToken& token);

// Whether this build and kernel can splice socket to socket (Linux with splice not disabled).
bool splice_available() noexcept;

// Accounting shared by both paths: the flow's totals, the upstream's counters, the watchdog.
void account(Flow& f, PathSlot path, std::uint64_t n) noexcept;
// A copy burst: waits for the source, then reads into a pool buffer and writes it all out until
// the source is empty or `budget` bytes moved. False when the flow ended (f.end set).
Task<bool> copy_burst(Worker& w, Flow& f, const IoOptions& io, std::uint64_t budget);
// The start of a burst, copied through the worker's scratch buffer: a small exchange (a request,
// a short response) moves with one recv and one send, no pipe and no pool buffer, which is
// cheaper than splicing it (a pipe's lease, fill and drain cost more than copying a few KiB).
enum class Probe : std::uint8_t {
  Idle,   // the source had nothing more (EAGAIN, or a short read): wait for it
  Bulk,   // a read filled the scratch buffer: more is queued, splice the rest
  Ended,  // the flow ended (f.end set)
};
Task<Probe> probe(Worker& w, Flow& f, const IoOptions& io);
// The errno of a failed read/write as a flow's end.
End end_for(int err, bool reading) noexcept;
// A readiness wait's result: true when it completed; false when it was cancelled or timed out
// (f.end = Cancelled, f.error its errno).
bool waited(Flow& f, const Result<void>& ready) noexcept;

}  // namespace zcnet::proxy

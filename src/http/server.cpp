// The accept loop, the per-worker watchdog (send timeouts), graceful shutdown and the access log.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/worker.hpp"

namespace zcnet::http {

using namespace std::chrono_literals;

namespace {

EngineOptions engine_options(const ServerOptions& o) {
  EngineOptions e;
  // One connection buffer (request in, response head out) per connection, and at most one chunk
  // per sending connection: the classes cover both, and growth is bounded by max_connections
  // (a full pool would turn into ENOBUFS mid-response).
  e.pool.class_sizes = {16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024};
  e.pool.buffers_per_class = 8;
  e.pool.max_buffers_per_class = std::max<std::size_t>(64, o.max_connections);
  e.pool.policy = ExhaustionPolicy::Grow;
  return e;
}

}  // namespace

Worker::Worker(Loop& loop, Server& server)
    : loop_(&loop),
      server_(&server),
      site_(server.site()),
      generation_(server.generation()),
      metrics_(&server.add_worker_metrics()),
      engine_(engine_options(site_->options())),
      conns_(loop) {
  head_.prev = head_.next = &head_;
  log_.reserve(64 * 1024);
}

const std::shared_ptr<const Site>& Worker::site() {
  const std::uint64_t now = server_->generation();
  if (now != generation_) {
    flush_log();  // lines so far belong to the old log (rotation)
    site_ = server_->site();
    generation_ = now;
  }
  return site_;
}

Worker::~Worker() {
  flush_log();
}

void Worker::add(ConnState& c) noexcept {
  c.prev = head_.prev;
  c.next = &head_;
  head_.prev->next = &c;
  head_.prev = &c;
}

void Worker::remove(ConnState& c) noexcept {
  if (!c.prev) return;
  c.prev->next = c.next;
  c.next->prev = c.prev;
  c.prev = c.next = nullptr;
}

void Worker::start_draining() {
  draining_ = true;
  // Cancelling may resume nothing synchronously (completions run on a later turn), but walk a
  // snapshot-safe way anyway: take `next` before acting on an entry.
  for (ConnState* c = head_.next; c != &head_;) {
    ConnState* next = c->next;
    if (c->phase != Phase::Sending) c->cancel.cancel();
    c = next;
  }
}

void Worker::cancel_all() {
  for (ConnState* c = head_.next; c != &head_;) {
    ConnState* next = c->next;
    c->cancel.cancel();
    c = next;
  }
}

void Worker::check_timeouts(Clock::time_point now) {
  const auto limit = options().send_timeout;
  for (ConnState* c = head_.next; c != &head_;) {
    ConnState* next = c->next;
    if (c->idle_deadline <= now) {
      c->cancel.cancel();
    } else if (c->phase == Phase::Sending && c->sending) {
      const std::uint64_t bytes = c->sending->stats().bytes;
      if (bytes != c->seen_bytes) {
        c->seen_bytes = bytes;
        c->last_progress = now;
      } else if (now - c->last_progress >= limit) {
        c->cancel.cancel();
      }
    }
    c = next;
  }
}

Clock::duration Worker::watchdog_tick() const noexcept {
  const ServerOptions& o = options();
  const Clock::duration shortest =
      std::min({Clock::duration(o.send_timeout), Clock::duration(o.keepalive_timeout),
                Clock::duration(o.header_timeout)});
  return std::clamp<Clock::duration>(shortest / 4, 20ms, 1s);
}

void Worker::log_request(const TraceContext* trace, std::string_view peer, std::string_view method,
                         std::string_view target, int minor, int status, std::uint64_t bytes,
                         Clock::duration took) {
  if (site_->access_log_fd() < 0) return;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  fmt::format_to(std::back_inserter(log_), "{} \"{} {} HTTP/1.{}\" {} {} {}us", peer, method,
                 target, minor, status, bytes, us);
  if (trace) {
    log_ += " trace=";
    log_ += hex(trace->trace_id);
  }
  log_ += '\n';
  if (log_.size() >= 32 * 1024) flush_log();
}

void Worker::sample_pools() noexcept {
  metrics_->pools.sample(engine_.buffers().stats(), engine_.pipes().stats());
  metrics_->pools.sample_mappings(engine_.mappings().stats());
}

void Worker::flush_log() {
  const int fd = site_->access_log_fd();
  std::size_t off = 0;
  while (fd >= 0 && off < log_.size()) {
    ssize_t w = ::write(fd, log_.data() + off, log_.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // a log that cannot be written must not stop the server
    off += static_cast<std::size_t>(w);
  }
  log_.clear();
}

namespace {

// Wakes up a few times per timeout to find senders whose peer stopped reading and connections
// that waited too long for a request.
Task<void> watchdog(Worker& w, CancelToken stop) {
  for (;;) {
    auto r = co_await w.loop().sleep_for(w.watchdog_tick(), stop);
    if (!r) break;
    w.check_timeouts(Clock::now());
    w.flush_log();
    w.sample_pools();
    (void)w.site();  // a reload reaches the access log even without new connections
  }
}

}  // namespace

Task<void> Server::run(Loop& loop, UniqueFd listener) {
  Worker w(loop, *this);
  CancelSource watchdog_stop;
  TaskGroup helpers(loop);
  helpers.spawn(watchdog(w, watchdog_stop.token()));
  const CancelToken stop = loop.shutdown_token();
  const IoOptions accept_io(stop);  // named: no temporaries inside co_await (loop.hpp)
  for (;;) {
    auto fd = co_await loop.accept(listener.get(), accept_io);
    if (!fd) {
      if (fd.error().code() != ECANCELED)
        fmt::print(stderr, "zcnet serve: accept: {}\n", fd.error().message());
      break;
    }
    if (try_enter())
      w.conns().spawn(serve_connection(w, std::move(*fd)));
    else
      w.conns().spawn(refuse_connection(w, std::move(*fd)));
  }
  loop.close(std::move(listener));  // queued connections are refused from here on
  w.start_draining();
  if (!co_await w.conns().join(Clock::now() + w.options().shutdown_grace)) {
    fmt::print(stderr, "zcnet serve: {} connection(s) still busy after the grace period: closed\n",
               w.conns().size());
    w.cancel_all();
    (void)co_await w.conns().join();
  }
  watchdog_stop.cancel();
  (void)co_await helpers.join();
}

}  // namespace zcnet::http

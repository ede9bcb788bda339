#include "proxy/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zcnet::proxy {

namespace {

// Copy-path buffers: one per direction that is moving bytes right now (an idle one holds none).
PoolOptions buffer_options(const ProxyOptions& o) {
  PoolOptions p;
  p.class_sizes = {64 * 1024};
  p.buffers_per_class = 4;
  p.max_buffers_per_class = std::max<std::size_t>(64, 2 * o.max_connections);
  p.policy = ExhaustionPolicy::Grow;
  return p;
}

}  // namespace

Worker::Worker(Loop& loop, Proxy& proxy)
    : loop_(&loop),
      proxy_(&proxy),
      config_(proxy.config()),
      generation_(proxy.generation()),
      metrics_(&proxy.add_worker_metrics()),
      pipes_(config_->options().pipe_bytes, 64, config_->options().max_pipes),
      buffers_(buffer_options(config_->options())),
      scratch_(std::make_unique<std::byte[]>(kScratchBytes)),
      conns_(loop) {
  head_.prev = head_.next = &head_;
  log_.reserve(64 * 1024);
}

Worker::~Worker() {
  flush_log();
  metrics_->pipes_leased.store(0, std::memory_order_relaxed);
}

const std::shared_ptr<const Config>& Worker::config() {
  const std::uint64_t now = proxy_->generation();
  if (now != generation_) {
    flush_log();  // lines so far belong to the old log (rotation)
    config_ = proxy_->config();
    generation_ = now;
  }
  return config_;
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
  for (ConnState* c = head_.next; c != &head_;) {
    ConnState* next = c->next;
    if (!c->relaying) c->cancel.cancel();
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

void Worker::check_idle(Clock::time_point now) {
  const auto limit = options().idle_timeout;
  for (ConnState* c = head_.next; c != &head_;) {
    ConnState* next = c->next;
    if (c->moved != c->seen) {
      c->seen = c->moved;
      c->last_progress = now;
    } else if (c->relaying && now - c->last_progress >= limit && !c->idle_expired) {
      c->idle_expired = true;
      c->cancel.cancel();
    }
    c = next;
  }
  const PipePoolStats pipes = pipes_.stats();
  metrics_->pipes_leased.store(pipes.leased, std::memory_order_relaxed);
  metrics_->pools.sample(buffers_.stats(), pipes);
}

void Worker::log_line(std::string_view line) {
  if (config_->access_log_fd() < 0) return;
  log_.append(line);
  if (log_.size() >= 32 * 1024) flush_log();
}

void Worker::flush_log() {
  const int fd = config_->access_log_fd();
  std::size_t off = 0;
  while (fd >= 0 && off < log_.size()) {
    const ssize_t w = ::write(fd, log_.data() + off, log_.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // a log that cannot be written must not stop the proxy
    off += static_cast<std::size_t>(w);
  }
  log_.clear();
}

}  // namespace zcnet::proxy

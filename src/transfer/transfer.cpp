#include "zcnet/transfer/transfer.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "transfer/progress.hpp"

namespace zcnet {

namespace {

Profile profile_from_disk() {
  std::error_code ec;
  std::string path = Profile::default_path();
  if (std::filesystem::exists(path, ec))
    if (auto p = Profile::load(path)) return *p;
  return Profile::defaults();
}

}  // namespace

Engine::Engine(EngineOptions options)
    : caps_(options.caps ? *options.caps : Capabilities::probe()),
      selector_(caps_, options.profile ? *options.profile : profile_from_disk()),
      buffers_(std::move(options.pool)),
      pipes_(std::min(options.pipe_bytes, caps_.pipe_max_bytes)),
      mappings_(options.mappings) {}

struct Transfer::State {
  Engine* engine = nullptr;
  Source src;
  Sink dst;
  TransferOptions opts;
  Choice choice;
  Stats stats;
  StrategyContext ctx;
  std::unique_ptr<Strategy> strategy;
  std::optional<Error> setup_error;
  std::uint64_t header_sent = 0;
  bool done = false;
  bool started = false;
  std::chrono::steady_clock::time_point start;

  Outcome send_header();
  Outcome step_body(std::uint64_t budget);
  bool fall_back(const Error& why);
  void finish() {
    done = true;
    stats.elapsed = std::chrono::steady_clock::now() - start;
  }
};

// Sends the header with MSG_MORE when a body follows, so header and body leave in full segments
// (nginx's tcp_nopush) and no Nagle/delayed-ACK stall splits them.
Outcome Transfer::State::send_header() {
  Outcome out;
  const auto header = opts.header;
  const bool body_follows = ctx.limit.value_or(1) > 0;
  while (header_sent < header.size()) {
    const std::byte* p = header.data() + header_sent;
    const std::size_t n = header.size() - header_sent;
    ssize_t w;
    ++stats.syscalls;
    if (kind_of(dst) == EndpointKind::Socket)
      w = ::send(fd_of(dst), p, n, MSG_NOSIGNAL | (body_follows ? MSG_MORE : 0));
    else if (const auto* f = std::get_if<FileRange>(&dst))
      w = ::pwrite(f->fd, p, n, static_cast<off_t>(f->offset - header.size() + header_sent));
    else
      w = ::write(fd_of(dst), p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      out.wait = Wait{fd_of(dst), Direction::Write};
      return out;
    }
    if (w < 0) {
      out.error = last_error("send header", describe_fd(fd_of(dst)));
      return out;
    }
    header_sent += static_cast<std::uint64_t>(w);
    out.bytes += static_cast<std::uint64_t>(w);
    stats.bytes += static_cast<std::uint64_t>(w);
  }
  return out;
}

// Moves to the next strategy in the selector's chain; false when none is left or not allowed.
bool Transfer::State::fall_back(const Error& why) {
  if (!opts.allow_fallback) return false;
  // The buffer-shortage route is taken once, from the first choice: a chain that comes back to a
  // buffer strategy and finds the pool still empty ends there instead of going round.
  const int error = stats.fallbacks == 0 ? why.code() : 0;
  auto next = engine->selector().fallback(choice.strategy, src, dst, error);
  if (!next) return false;
  choice.fell_back_from = choice.strategy;
  choice.fallback_errno = why.code();
  choice.strategy = *next;
  strategy.reset();
  ++stats.fallbacks;
  return true;
}

Outcome Transfer::State::step_body(std::uint64_t budget) {
  for (;;) {
    if (!strategy) {
      auto made = make_strategy(choice.strategy, src, dst, ctx);
      if (!made) {
        if (fall_back(made.error())) continue;
        Outcome out;
        out.handled = false;
        out.error = std::move(made).error();
        return out;
      }
      strategy = std::move(*made);
    }
    Outcome out = strategy->step(budget);
    // handled == false: nothing was consumed, so the next strategy starts from the same place.
    if (!out.handled && out.error && fall_back(*out.error)) continue;
    return out;
  }
}

Transfer::Transfer(Engine& engine, Source src, Sink dst, TransferOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.engine = &engine;
  s.src = src;
  s.dst = dst;
  s.opts = std::move(options);
  s.ctx.stats = &s.stats;
  s.ctx.buffers = &engine.buffers();
  s.ctx.pipes = &engine.pipes();
  s.ctx.caps = &engine.caps();
  s.ctx.mappings = &engine.mappings();
  s.ctx.chunk_bytes = s.opts.chunk_bytes;
  s.ctx.mirror = s.opts.mirror;
  s.ctx.limit = s.opts.limit;
  if (const auto* f = std::get_if<FileRange>(&s.src)) {
    if (auto len = detail::file_source_length(*f))
      s.ctx.limit = *len;
    else
      s.setup_error = std::move(len).error();
  } else if (const auto* m = std::get_if<Memory>(&s.src)) {
    s.ctx.limit = m->bytes.size();
  }
  StrategyKind forced = s.opts.strategy;
  if (s.opts.mirror && forced == StrategyKind::Auto) forced = StrategyKind::Tee;
  if (s.opts.choice && forced == StrategyKind::Auto)
    s.choice = *s.opts.choice;
  else
    s.choice = engine.selector().choose(s.src, s.dst, s.ctx.limit, forced);
  if (s.opts.mirror && s.opts.strategy == StrategyKind::Auto)
    s.choice.reason = "a mirror was asked for: tee duplicates the pipe without a copy";
  // A file sink takes the body right after the header.
  if (auto* f = std::get_if<FileRange>(&s.dst); f && !s.opts.header.empty())
    f->offset += s.opts.header.size();
}

Transfer::Transfer(Transfer&&) noexcept = default;
Transfer& Transfer::operator=(Transfer&&) noexcept = default;
Transfer::~Transfer() = default;

bool Transfer::done() const noexcept {
  return state_->done;
}
const Choice& Transfer::choice() const noexcept {
  return state_->choice;
}
const Stats& Transfer::stats() const noexcept {
  return state_->stats;
}

void Transfer::add_wait_time(std::chrono::nanoseconds d) noexcept {
  state_->stats.waited += d;
}

Outcome Transfer::step(std::uint64_t budget) {
  State& s = *state_;
  if (s.done) {
    Outcome out;
    out.done = true;
    return out;
  }
  if (!s.started) {
    s.started = true;
    s.start = std::chrono::steady_clock::now();
  }
  if (s.setup_error) {
    Outcome out;
    out.error = s.setup_error;
    return out;
  }
  Outcome head;
  if (s.header_sent < s.opts.header.size()) {
    head = s.send_header();
    if (head.wait || head.error) {
      if (head.wait) ++s.stats.waits;
      return head;
    }
  }
  Outcome out = s.step_body(budget);
  out.bytes += head.bytes;
  if (out.wait) ++s.stats.waits;
  if (out.done) s.finish();
  return out;
}

Result<Stats> run_blocking(Transfer& transfer, int idle_timeout_ms) {
  for (;;) {
    Outcome out = transfer.step();
    if (out.error) return std::move(*out.error);
    if (out.done) return transfer.stats();
    if (!out.wait) continue;  // budget reached: step again
    pollfd p{out.wait->fd, static_cast<short>(out.wait->dir == Direction::Read ? POLLIN : POLLOUT),
             0};
    const auto began = std::chrono::steady_clock::now();
    int rc = ::poll(&p, 1, idle_timeout_ms);
    const int saved = errno;
    transfer.add_wait_time(std::chrono::steady_clock::now() - began);
    errno = saved;
    if (rc < 0 && errno != EINTR) return last_error("poll", describe_fd(p.fd));
    if (rc == 0)
      return Error(
          ETIMEDOUT, "transfer",
          fmt::format("no progress for {} ms waiting on {}", idle_timeout_ms, describe_fd(p.fd)));
  }
}

}  // namespace zcnet

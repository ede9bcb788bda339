// One connection: read a request into the connection's pool buffer, parse it in place, send the
// response (a file body as one Transfer with the head corked before it), repeat while keep-alive
// allows, then close lingering so a pipelined tail cannot turn the last response into an RST.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "http/request.hpp"
#include "http/respond.hpp"
#include "http/small_body.hpp"
#include "http/worker.hpp"
#include "zcnet/pool/buffer_pool.hpp"

namespace zcnet::http {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kHeadReserve = 2048;  // response head (and small error bodies)

void describe_peer(int fd, char (&out)[64]) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  out[0] = '-';
  out[1] = '\0';
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
  if (ss.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in&>(ss).sin_addr, out, sizeof out);
  else if (ss.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr, out, sizeof out);
}

// The single-write path serves the default strategy up to kSmallBodyMax, and forced read-write
// (it is read-write, in one syscall) up to one chunk, as nginx with sendfile off preads a body
// into its output buffer and writevs it with the head; other forced strategies keep their path.
bool small_body_fits(const Plan& p, StrategyKind forced, std::size_t chunk) {
  if (!p.has_body()) return false;
  if (forced == StrategyKind::Auto) return p.length <= kSmallBodyMax;
  return forced == StrategyKind::ReadWrite &&
         p.length <= std::max<std::uint64_t>(kSmallBodyMax, chunk);
}

// Socket options for an accepted connection; tuning hints, not requirements, so a failure (a
// kernel without TCP_NOTSENT_LOWAT, before 3.12) is not an error for the connection.
// - TCP_NODELAY, as nginx's tcp_nodelay (on by default): the head still leaves with the body,
//   sent with MSG_MORE in front of it. It matters with a low-water mark: a body then goes in
//   pieces, each ending in a short segment, and with Nagle the last piece's short segment waits
//   for the ACK of the one before, which the peer delays: 30-40 ms stalls at 10 connections
//   (docs/performance.md section 9).
// - TCP_NOTSENT_LOWAT (`lowat` > 0): see ServerOptions::notsent_lowat.
void tune_socket(int sock, std::uint32_t lowat) {
  const int one = 1;
  (void)::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef TCP_NOTSENT_LOWAT
  if (lowat == 0) return;
  const unsigned v = lowat;
  (void)::setsockopt(sock, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v);
#else
  (void)lowat;
#endif
}

bool quiet_error(int code) {
  return code == EPIPE || code == ECONNRESET || code == ECANCELED || code == ETIMEDOUT;
}

// Keeps the connection counted and listed for exactly the task's life.
struct Registration {
  Worker& w;
  ConnState& s;
  Registration(Worker& worker, ConnState& state) : w(worker), s(state) { w.add(s); }
  ~Registration() {
    w.remove(s);
    w.server().leave();
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
};

// Half-closes, then reads and drops what the peer still sends until it closes or `within` ends.
Task<void> close_lingering(Loop& loop, UniqueFd fd, std::span<std::byte> scratch, CancelToken token,
                           Clock::duration within) {
  ::shutdown(fd.get(), SHUT_WR);
  const auto deadline = Clock::now() + within;
  for (;;) {
    const IoOptions io(deadline, token);  // named: no temporaries inside co_await (loop.hpp)
    auto r = co_await loop.read(fd.get(), scratch, io);
    if (!r || *r == 0) break;
  }
  loop.close(std::move(fd));
}

// The strategy for one body: the forced one, else the selector's file->socket policy (with the
// peer's location asked once per connection), except that a local peer's body the Profile would
// send with a copy (read-write, or mmap from the cached mapping) goes by sendfile up to
// server_sendfile_max_bytes: under many connections that is what keeps the server's own CPU per
// GiB at nginx's (docs/performance.md section 8; the mapping moves more bytes for the machine's
// CPU but charges the server twice the CPU at 1 MiB x 500-1000).
StrategyKind body_strategy(const Engine& engine, const ServerOptions& o, std::uint64_t length,
                           bool peer_local) {
  if (o.strategy != StrategyKind::Auto) return o.strategy;
  const Selector& sel = engine.selector();
  const StrategyKind chosen = sel.choose_file_to_socket(length, peer_local, true).strategy;
  const bool copies = chosen == StrategyKind::ReadWrite || chosen == StrategyKind::Mmap;
  if (copies && peer_local && sel.caps().sendfile &&
      length > sel.profile().local_sendfile_max_bytes && length <= o.server_sendfile_max_bytes)
    return StrategyKind::Sendfile;
  return chosen;
}

}  // namespace

Task<void> serve_connection(Worker& w, UniqueFd fd) {
  ConnState state;
  Registration reg(w, state);
  Loop& loop = w.loop();
  // Pinned for the connection's life: a reload (SIGHUP) applies to connections accepted later.
  const std::shared_ptr<const Site> site = w.site();
  const ServerOptions& o = site->options();
  const int sock = fd.get();
  // The connection's buffer: request bytes in front, the response head in the last kHeadReserve.
  auto acquired = w.engine().buffers().acquire(o.max_header_bytes + 1 + kHeadReserve);
  if (!acquired) {
    fmt::print(stderr, "zcnet serve: {}\n", acquired.error().message());
    loop.close(std::move(fd));
    co_return;
  }
  PoolBuffer buf = std::move(*acquired);
  const std::span<char> all(reinterpret_cast<char*>(buf.data()), buf.capacity());
  const std::span<char> in = all.first(all.size() - kHeadReserve);
  const std::span<char> out = all.last(kHeadReserve);
  char path[PATH_MAX];  // the resolved path of the current request
  char peer[64] = "-";
  if (site->access_log_fd() >= 0) describe_peer(sock, peer);
  ParseLimits limits;
  limits.max_request_line = o.max_request_line;
  limits.max_header_bytes = o.max_header_bytes;
  limits.max_headers = o.max_headers;
  const CancelToken token = state.cancel.token();
  // Accepted sockets are nonblocking; where the peer is stays put for the connection's life.
  const bool peer_local = peer_is_local(sock);
  tune_socket(sock, o.notsent_lowat);
  FileCache::Limits cache_limits;
  cache_limits.max_entries = o.open_file_cache_entries;
  cache_limits.valid = o.open_file_cache_valid;

  std::size_t have = 0;  // request bytes in `in`, starting at in[0]
  bool first = true;
  bool keep = true;
  bool linger = true;  // false once the peer is gone or broke the connection
  while (keep) {
    // ---- read until one request is complete ----
    Request req;
    ParseResult pr = parse_request(in.first(have), limits, req);
    auto started = Clock::now();
    while (pr.status == ParseStatus::Incomplete) {
      if (have == 0 && w.draining()) {
        keep = linger = false;
        break;
      }
      Clock::time_point deadline;
      if (have == 0) {
        state.phase = first ? Phase::Reading : Phase::Idle;
        deadline = Clock::now() + (first ? o.header_timeout : o.keepalive_timeout);
      } else {
        state.phase = Phase::Reading;
        deadline = started + o.header_timeout;
      }
      auto r = co_await loop.read(sock, std::as_writable_bytes(in.subspan(have)),
                                  IoOptions(deadline, token));
      if (!r || *r == 0) {
        if (have > 0 && !r && r.error().code() == ETIMEDOUT) {
          // Slowloris: a request that does not complete within the header timeout.
          Plan p = plan_error(408, false, false, out);
          (void)::send(sock, out.data(), p.head_bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        keep = linger = false;
        break;
      }
      if (have == 0) started = Clock::now();
      have += *r;
      pr = parse_request(in.first(have), limits, req);
    }
    if (!keep) break;
    first = false;

    // ---- plan and send the response ----
    const auto t0 = Clock::now();
    FileCache& cache = w.file_cache();
    cache.bind(site, cache_limits);
    Plan plan = pr.status == ParseStatus::Error
                    ? plan_error(pr.http_status, false, false, out)
                    : plan_response(*site, cache, req, w.draining(), out, path);
    if (pr.status == ParseStatus::Error) req.target = {};
    // ---- a small body is read now and leaves with the head in one sendmsg ----
    SmallBody small;
    bool single_write = false;
    if (small_body_fits(plan, o.strategy, o.chunk_bytes)) {
      auto body = read_small_body(w.engine().buffers(), plan.body_fd(), plan.offset,
                                  static_cast<std::size_t>(plan.length));
      if (!body && body.error().code() == ENODATA && plan.cached) {
        // The file shrank inside the revalidation window: plan again from the file as it is.
        cache.drop(std::string_view(path));
        plan = plan_response(*site, cache, req, w.draining(), out, path);
        if (small_body_fits(plan, o.strategy, o.chunk_bytes))
          body = read_small_body(w.engine().buffers(), plan.body_fd(), plan.offset,
                                 static_cast<std::size_t>(plan.length));
      }
      if (body) {
        small = std::move(*body);
        single_write = true;
      } else if (small_body_fits(plan, o.strategy, o.chunk_bytes)) {
        fmt::print(stderr, "zcnet serve: {}: {}\n", req.target, body.error().message());
        plan = plan_error(500, false, req.method == Method::Head, out);
      }
    }
    keep = plan.keep_alive;
    std::uint64_t sent = 0;
    std::size_t strategy_slot = kHeadersOnly;  // metrics: what sent the body
    state.phase = Phase::Sending;
    const auto head = std::as_bytes(out.first(plan.head_bytes));
    if (single_write) {
      strategy_slot = static_cast<std::size_t>(StrategyKind::ReadWrite);
      auto r = send_head_and_body(sock, head, small.bytes());
      if (r) sent = *r;
      const std::uint64_t want = head.size() + small.size;
      if (r && sent < want) {
        // The socket buffer is full: wait for room and send the rest (rare on a small body).
        const IoOptions io = within(o.send_timeout, token);  // named (loop.hpp)
        if (sent < head.size()) {
          auto h = co_await loop.write_all(sock, head.subspan(sent), io);
          if (h) sent = head.size();
        }
        if (sent >= head.size()) {
          auto b = co_await loop.write_all(sock, small.bytes().subspan(sent - head.size()), io);
          if (b) sent = want;
        }
      }
      if (sent != want) keep = linger = false;
    } else if (plan.has_body()) {
      TransferOptions topts;  // a named local: aggregates with members are not built in co_await
      topts.strategy = body_strategy(w.engine(), o, plan.length, peer_local);
      topts.header = head;
      topts.chunk_bytes = o.chunk_bytes;
      // One allocation per response (Transfer::State): it keeps Stats at a stable address.
      Transfer t(w.engine(), FileRange{plan.body_fd(), plan.offset, plan.length}, Socket{sock},
                 topts);
      state.sending = &t;
      state.seen_bytes = 0;
      state.last_progress = Clock::now();
      const IoOptions io(token);  // named: no temporaries inside co_await (loop.hpp)
      auto r = co_await transfer(loop, t, io, o.step_budget);
      state.sending = nullptr;
      sent = t.stats().bytes;
      strategy_slot = static_cast<std::size_t>(t.choice().strategy);
      const std::uint64_t want = head.size() + plan.length;
      if (!r || sent != want) {
        keep = linger = false;
        const bool truncated = r ? sent < want : r.error().code() == ENODATA;
        if (truncated)
          fmt::print(stderr,
                     "zcnet serve: {} ({}): file truncated while sent: {} of {} bytes: {}\n",
                     req.target, static_cast<const char*>(path), sent, want,
                     r ? std::string("ENODATA (source ended early)") : r.error().message());
        else if (!r && !quiet_error(r.error().code()))
          fmt::print(stderr, "zcnet serve: {}: {}\n", req.target, r.error().message());
      }
    } else {
      const IoOptions io = within(o.send_timeout, token);  // named (loop.hpp)
      auto r = co_await loop.write_all(sock, head, io);
      if (r)
        sent = head.size();
      else
        keep = linger = false;
    }
    plan.file.reset();
    plan.cached.reset();
    small = {};
    const auto took = Clock::now() - t0;
    w.log_request(peer, req.method_name, req.target, req.minor, plan.status, sent, took);
    w.metrics().record(plan.status, strategy_slot, sent, took);

    // ---- keep what a pipelining client sent after this request ----
    if (pr.status == ParseStatus::Complete) {
      std::memmove(in.data(), in.data() + pr.consumed, have - pr.consumed);
      have -= pr.consumed;
    }
  }
  if (linger && !token.cancelled())
    co_await close_lingering(loop, std::move(fd), std::as_writable_bytes(in), token, 1s);
  else
    loop.close(std::move(fd));
}

Task<void> refuse_connection(Worker& w, UniqueFd fd) {
  char out[512];
  Plan p = plan_error(503, false, false, out);
  (void)::send(fd.get(), out, p.head_bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
  std::byte scratch[512];
  const CancelToken none;
  co_await close_lingering(w.loop(), std::move(fd), scratch, none, 1s);
}

}  // namespace zcnet::http

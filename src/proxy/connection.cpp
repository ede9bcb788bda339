// One client connection: pick an upstream and connect (the next one on a failed connect, before
// any client byte went out), send the PROXY header if asked, then relay both directions at once
// until each has ended. A FIN one way is passed on as a half-close while the other way goes on;
// a reset (or a sink that refuses bytes) is passed on as a reset to the other side.
#include "proxy/connection.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>

#include "proxy/proxy_protocol.hpp"
#include "proxy/relay.hpp"

namespace zcnet::proxy {

using namespace std::chrono_literals;

namespace {

std::string describe(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "-";
  unsigned port = 0;
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    port = ntohs(a.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &a.sin6_addr, ip, sizeof ip);
    return fmt::format("[{}]:{}", ip, ntohs(a.sin6_port));
  }
  return fmt::format("{}:{}", ip, port);
}

void tune(int fd, std::uint32_t notsent_lowat) {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (notsent_lowat > 0)
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat, sizeof notsent_lowat);
}

// The next close of `fd` sends RST instead of FIN.
void reset_on_close(int fd) {
  const linger l{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// Keeps the connection counted and listed for exactly the task's life.
struct Registration {
  Worker& w;
  ConnState& s;
  Registration(Worker& worker, ConnState& state) : w(worker), s(state) { w.add(s); }
  ~Registration() {
    w.remove(s);
    w.proxy().leave();
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
};

// One direction from start to end, then what its end means for the connection.
Task<void> direction(Worker& w, Flow& f, bool splice, ConnState& state, bool& reset) {
  const CancelToken token = state.cancel.token();  // named: no temporaries inside co_await
  co_await pump(w, f, splice, token);
  switch (f.end) {
    case End::Eof:
      ::shutdown(f.to, SHUT_WR);  // the half-close passes through; the other way goes on
      break;
    case End::Reset:  // the source reset: so does its counterpart
      reset_on_close(f.to);
      reset = true;
      state.cancel.cancel();
      break;
    case End::SinkGone:  // the sink is gone: the source learns by a reset
      reset_on_close(f.from);
      reset = true;
      state.cancel.cancel();
      break;
    case End::Cancelled:
      break;
  }
  if (f.mirror) co_await f.mirror->finish(w.loop(), 1s);
}

// What moved a direction's bytes; a direction that moved none names the path it would have used.
const char* path_name(const Flow& f, bool splice) {
  if (f.spliced && f.copied) return f.uring ? "uring-splice+copy" : "splice+copy";
  if (f.copied) return "copy";
  if (f.spliced || splice) return f.uring ? "uring-splice" : "splice";
  return "copy";
}

}  // namespace

Task<void> proxy_connection(Worker& w, std::size_t listener, UniqueFd client) {
  ConnState state;
  Registration reg(w, state);
  Loop& loop = w.loop();
  const std::shared_ptr<const Config> config = w.config();  // pinned for the connection's life
  const ListenerConfig& lc = config->listener(listener);
  const ProxyOptions& o = config->options();
  const UpstreamPool& pool = *lc.pool;
  const auto began = Clock::now();
  state.last_progress = began;
  const CancelToken token = state.cancel.token();
  w.metrics().accepted.add();
  // Tracing: a new trace per connection (raw TCP carries no traceparent); its start time is
  // read only when the span may be recorded.
  std::optional<TraceContext> trace;
  std::uint64_t began_ns = 0;
  if (o.tracer) {
    trace = o.tracer->start(std::nullopt);
    if (trace->sampled() || o.tracer->keeps_tails()) began_ns = unix_nanos();
  }

  sockaddr_storage peer{}, local{};
  socklen_t len = sizeof peer;
  (void)::getpeername(client.get(), reinterpret_cast<sockaddr*>(&peer), &len);
  len = sizeof local;
  (void)::getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
  tune(client.get(), o.notsent_lowat);

  // Connect: each failure marks the upstream (passive health) and moves on to the next one.
  UniqueFd up;
  int index = -1;
  std::uint64_t tried = 0;
  std::optional<Error> last;
  for (unsigned attempt = 0; attempt < o.max_attempts && !token.cancelled(); ++attempt) {
    const int i = pool.pick(peer, tried);
    if (i < 0) break;
    tried |= std::uint64_t{1} << i;
    const Upstream& u = pool.upstreams()[static_cast<std::size_t>(i)];
    if (attempt > 0) u.state->retries.fetch_add(1, std::memory_order_relaxed);
    const IoOptions io = within(o.connect_timeout, token);  // named (loop.hpp)
    auto fd = co_await loop.dial(u.address.sa(), u.address.len, io);
    if (fd) {
      up = std::move(*fd);
      index = i;
      pool.connected(i);
      break;
    }
    if (token.cancelled()) break;
    if (local_shortage(fd.error().code())) {
      last = std::move(fd).error();  // socket(): says so, and names no upstream
      break;
    }
    pool.connect_failed(i);
    last = Error(fd.error().code(), "connect", u.address.name);
  }

  Close how = Close::Done;
  Flow c2u, u2c;
  const bool splice = o.path != DataPath::Copy && splice_available();
  const Upstream* chosen =
      index >= 0 ? &pool.upstreams()[static_cast<std::size_t>(index)] : nullptr;
  if (!chosen) {
    const bool shortage = last && local_shortage(last->code());
    how = token.cancelled() ? Close::Shutdown : shortage ? Close::Error : Close::NoUpstream;
    if (how == Close::Error)
      fmt::print(stderr, "zcnet proxy: {}: no socket towards an upstream for {}: {}\n",
                 lc.options.name, describe(peer), last->message());
    if (how == Close::NoUpstream)
      fmt::print(stderr, "zcnet proxy: {}: no upstream took the connection from {}: {}\n",
                 lc.options.name, describe(peer),
                 last ? last->message() : std::string("every upstream is down"));
    loop.close(std::move(client));
  } else {
    UpstreamState& us = *chosen->state;
    us.active.fetch_add(1, std::memory_order_relaxed);
    state.relaying = true;
    tune(up.get(), o.notsent_lowat);
    bool ok = true;
    if (lc.options.send_proxy != ProxyHeader::None) {
      char header[kProxyHeaderMax];
      const std::size_t n = write_proxy_header(lc.options.send_proxy, peer, local,
                                               std::span<char, kProxyHeaderMax>(header));
      const IoOptions io = within(o.connect_timeout, token);  // named (loop.hpp)
      auto wrote = co_await loop.write_all(up.get(), std::as_bytes(std::span(header, n)), io);
      ok = static_cast<bool>(wrote);
      if (!ok) how = Close::Error;
    }
    if (ok) {
      std::optional<Mirror> m_c2u, m_u2c;
      if (lc.mirror) {
        m_c2u.emplace(w, *lc.mirror);
        if (lc.options.mirror.both_ways) m_u2c.emplace(w, *lc.mirror);
      }
      const bool uring = splice && o.path == DataPath::UringSplice;
      c2u = Flow{client.get(), up.get(), Way::ToUpstream, &us, &state, m_c2u ? &*m_c2u : nullptr,
                 uring};
      u2c = Flow{up.get(), client.get(), Way::ToClient, &us, &state, m_u2c ? &*m_u2c : nullptr,
                 uring};
      bool reset = false;
      TaskGroup other(loop);
      other.spawn(direction(w, u2c, splice, state, reset));
      co_await direction(w, c2u, splice, state, reset);
      (void)co_await other.join();
      if (reset)
        how = Close::Reset;
      else if (state.idle_expired)
        how = Close::IdleTimeout;
      else if (c2u.end == End::Cancelled || u2c.end == End::Cancelled)
        how = w.draining() ? Close::Shutdown : Close::Error;
    }
    us.active.fetch_sub(1, std::memory_order_relaxed);
    loop.close(std::move(up));
    loop.close(std::move(client));
  }

  w.metrics().closed[static_cast<std::size_t>(how)].add();
  const auto took = Clock::now() - began;
  if (began_ns) {
    const bool failed = how == Close::Reset || how == Close::NoUpstream || how == Close::Error;
    if (trace->sampled() ||
        o.tracer->keep(failed, took, chosen ? std::string_view(chosen->address.name) : "",
                       trace->trace_id)) {
      Span s{.trace_id = trace->trace_id, .span_id = trace->span_id, .name = "relay"};
      s.start_ns = began_ns;
      s.end_ns = unix_nanos();
      s.error = failed;
      s.strings = {{"client.address", describe(peer)},
                   {"zcnet.listener", lc.options.name},
                   {"server.address", chosen ? chosen->address.name : std::string("-")},
                   {"zcnet.path_up", path_name(c2u, splice)},
                   {"zcnet.path_down", path_name(u2c, splice)},
                   {"zcnet.close", std::string(to_string(how))}};
      s.numbers = {{"zcnet.bytes_up", static_cast<std::int64_t>(c2u.bytes())},
                   {"zcnet.bytes_down", static_cast<std::int64_t>(u2c.bytes())}};
      (void)o.tracer->emit(std::move(s));
    }
  }
  if (config->access_log_fd() >= 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
    w.log_line(fmt::format("{} {} {} up={}/{} down={}/{} {}ms {}{}{}\n", describe(peer),
                           lc.options.name, chosen ? chosen->address.name : "-", c2u.bytes(),
                           path_name(c2u, splice), u2c.bytes(), path_name(u2c, splice), ms.count(),
                           to_string(how), trace ? " trace=" : "",
                           trace ? hex(trace->trace_id) : std::string()));
  }
}

}  // namespace zcnet::proxy

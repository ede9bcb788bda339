// One connection: wait, holding nothing but a small coroutine frame, until the peer sends; then
// read a request into a pool buffer and parse it in place, plan the response, send it (the head
// corked in front of a file body: a small body in the same sendmsg, a body sent by sendfile as far
// as the socket takes it at once, the rest as one Transfer), and repeat while requests keep
// coming. When the socket has no more bytes the buffer goes back to the pool and the connection
// waits again (an idle keep-alive connection holds no buffer). At the end it closes lingering, so
// a pipelined tail cannot turn the last response into an RST. Each request flows one way through
// a Connection: the read step fills its Request, plan() turns that into a Response, the send step
// puts the Response on the wire and says what it Sent, and finish() accounts for it. The steps
// are plain functions and only the busy coroutine awaits, so splitting them adds no coroutine
// frame per request.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "http/request.hpp"
#include "http/respond.hpp"
#include "http/small_body.hpp"
#include "http/worker.hpp"
#include "sys/rw_posix.hpp"
#include "zcnet/pool/buffer_pool.hpp"

namespace zcnet::http {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kHeadReserve = 2048;  // response head (and small error bodies)

void describe_peer(int fd, char (&out)[INET6_ADDRSTRLEN]) {
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
//   (docs/performance.md, "TCP_NOTSENT_LOWAT and TCP_NODELAY").
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

// A traced request's span data, gathered as it is served: when its trace is sampled, or when the
// policy may still keep it at the end (errors, slow requests).
struct Traced {
  SpanId parent{};             // the caller's span (traceparent), or zero
  std::string state;           // the caller's tracestate, checked (empty: none)
  std::uint64_t began_ns = 0;  // Unix time, for the request span
  std::uint64_t body_ns = 0;   // Unix time the body's transfer began (0: no body span)
  Choice choice;               // what sent the body
  std::optional<Stats> stats;  // the body's Transfer, when one ran (not a body sent at once)
};

// What the plan step hands to the send step.
struct Response {
  Plan plan;
  SmallBody small;  // when single_write: read already, it leaves with the head in one sendmsg
  bool single_write = false;
  Clock::time_point began;            // the loop woke with the request's last bytes (Loop::woke)
  std::optional<TraceContext> trace;  // when the server traces
  std::optional<Traced> traced;       // see Traced
};

// What the send step did: the bytes the socket took (head and body) and what sent the body.
struct Sent {
  std::uint64_t bytes = 0;
  std::size_t strategy_slot = kHeadersOnly;  // metrics: a StrategyKind value, or headers only
  bool cut = false;  // the response stopped short of its last byte (an error, or the peer left)
};

// The head (and a small body) without a Transfer: what one nonblocking sendmsg took, and the
// parts still to write, the head's rest then the body's, once the socket has room.
struct Writes {
  std::uint64_t want = 0;
  std::uint64_t sent = 0;
  std::array<std::span<const std::byte>, 2> rest;
  bool finished() const noexcept { return rest[0].empty() && rest[1].empty(); }
};

// Where the next read of a request goes: the buffer's free tail, until `deadline`; `once`: no
// request byte is held, so the read is tried once and EAGAIN makes the connection idle;
// `drained`: no request byte is held and the last read left the socket empty, so the connection
// goes idle without reading.
struct ReadWant {
  std::span<std::byte> into;
  Clock::time_point deadline;
  bool once = false;
  bool drained = false;
};

// What stays with a connection between its busy periods: the pinned Site, what its peer is, and
// whether a request was answered yet. Small: it lives in the idle coroutine's frame.
struct Session {
  std::shared_ptr<const Site> site;   // pinned: a reload applies to later connections
  std::uint32_t lowat = 0;            // the socket's TCP_NOTSENT_LOWAT now (0: the kernel's)
  bool peer_local = false;            // the peer's location, asked once per connection
  bool first = true;                  // no request answered yet
  Clock::time_point since;            // accepted, or the last response sent: idle from here
  char peer[INET6_ADDRSTRLEN] = "-";  // for the access log and spans (filled only for them)
};

// The low-water mark for a body going by `how`: ServerOptions::sendfile_notsent_lowat for
// sendfile, notsent_lowat otherwise; a setsockopt only when the connection's mark changes.
void mark_for_body(int sock, Session& session, const ServerOptions& o, StrategyKind how) {
#ifdef TCP_NOTSENT_LOWAT
  if (o.notsent_lowat == 0) return;
  const std::uint32_t want = how == StrategyKind::Sendfile && o.sendfile_notsent_lowat != 0
                                 ? o.sendfile_notsent_lowat
                                 : o.notsent_lowat;
  if (want == session.lowat) return;
  const unsigned v = want;
  if (::setsockopt(sock, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) == 0) session.lowat = want;
#else
  (void)sock, (void)session, (void)o, (void)how;
#endif
}

// How a busy period ended.
enum class After : std::uint8_t {
  Idle,    // no request byte held and none waiting: wait for the next request
  Closed,  // the connection is closed
};

// One busy period of a connection: its buffer (request bytes in front, the response head in the
// last kHeadReserve), the current request, and the Session it belongs to.
class Connection {
 public:
  Connection(Worker& w, ConnState& state, int sock, PoolBuffer buf, Session& session);

  const ServerOptions& options() const noexcept { return o_; }
  std::span<std::byte> scratch() noexcept { return std::as_writable_bytes(in_); }

  // ---- read: until one request is complete or malformed, or the connection is to close ----
  void begin_request();
  std::optional<ReadWant> next_read();  // nullopt: the request is in (or keep is false)
  void received(const Result<std::size_t>& r, std::size_t asked);

  // ---- plan: the request's status, head and body ----
  Response plan();

  // ---- send: without a Transfer (head only, or a small body), or the body as one Transfer ----
  Writes write_now(const Response& r);
  Sent written(const Response& r, const Writes& wr);
  std::span<const std::byte> head(const Response& r) const noexcept {
    return std::as_bytes(out_.first(r.plan.head_bytes));
  }
  Choice body_choice(const Response& r) const;
  Transfer body_transfer(const Response& r, const Choice& choice, const SentNow& now);
  Sent body_sent(const Response& r, StrategyKind how, std::uint64_t bytes, const Error* error);
  // The zero-copy ledger's share of a finished transfer: its body bytes by whether user space
  // copied them, the kernel's zero-copy notifications, and the fallback it took, if any.
  void account(const Response& r, const SentNow& now, const Transfer& t);

  // ---- account: the access log and metrics; keep what a pipelining client sent after it ----
  void finish(Response& r, const Sent& sent);

  bool keep = true;    // another request may follow on this connection
  bool linger = true;  // false once the peer is gone or broke the connection

 private:
  void take_small_body(Response& r, FileCache& cache);
  void start_trace(Response& r, Tracer& t);
  void end_trace(const Response& r, const Sent& sent, Clock::duration took);

  Worker& w_;
  ConnState& state_;
  Session& session_;
  const std::shared_ptr<const Site>& site_;
  const ServerOptions& o_;
  const int sock_;
  PoolBuffer buf_;
  std::span<char> in_;   // request bytes
  std::span<char> out_;  // the response head
  char path_[PATH_MAX];  // the resolved path of the current request
  ParseLimits limits_;
  FileCache::Limits cache_limits_;
  // The engine's selector in server mode, bounded by this Site's local sendfile maximum.
  const Selector selector_;
  Request req_;
  ParseResult parsed_;
  Clock::time_point started_;  // the current request's first byte
  std::size_t have_ = 0;       // request bytes in in_, starting at in_[0]
  bool drained_ = false;       // the last read took less than it asked: the socket was empty
};

Profile server_profile(const Selector& engine_selector, const ServerOptions& o) {
  Profile p = engine_selector.profile();
  p.server_local_sendfile_max_bytes = o.server_sendfile_max_bytes;
  return p;
}

Connection::Connection(Worker& w, ConnState& state, int sock, PoolBuffer buf, Session& session)
    : w_(w),
      state_(state),
      session_(session),
      site_(session.site),
      o_(site_->options()),
      sock_(sock),
      buf_(std::move(buf)),
      selector_(w.engine().caps(), server_profile(w.engine().selector(), o_)) {
  const std::span<char> all(reinterpret_cast<char*>(buf_.data()), buf_.capacity());
  in_ = all.first(all.size() - kHeadReserve);
  out_ = all.last(kHeadReserve);
  limits_.max_request_line = o_.max_request_line;
  limits_.max_header_bytes = o_.max_header_bytes;
  limits_.max_headers = o_.max_headers;
  cache_limits_.max_entries = o_.open_file_cache_entries;
  cache_limits_.valid = o_.open_file_cache_valid;
}

void Connection::begin_request() {
  if (have_ == 0) {
    parsed_ = ParseResult{};
    return;
  }
  parsed_ = parse_request(in_.first(have_), limits_, req_);  // a pipelined one may be in already
  if (parsed_.status == ParseStatus::Incomplete) started_ = Clock::now();
}

std::optional<ReadWant> Connection::next_read() {
  if (!keep || parsed_.status != ParseStatus::Incomplete) return std::nullopt;
  if (have_ == 0 && w_.draining()) {
    keep = linger = false;
    return std::nullopt;
  }
  state_.phase = Phase::Reading;
  return ReadWant{std::as_writable_bytes(in_.subspan(have_)), started_ + o_.header_timeout,
                  have_ == 0, have_ == 0 && drained_};
}

void Connection::received(const Result<std::size_t>& r, std::size_t asked) {
  if (!r || *r == 0) {
    if (have_ > 0 && !r && r.error().code() == ETIMEDOUT) {
      // Slowloris: a request that does not complete within the header timeout. Logged and
      // counted like any response, with what of the request line had arrived.
      Plan p = plan_error(408, false, false, out_);
      const ssize_t n = ::send(sock_, out_.data(), p.head_bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
      const auto sent = static_cast<std::uint64_t>(n > 0 ? n : 0);
      const auto took = Clock::now() - started_;
      w_.log_request(nullptr, session_.peer, req_.method_name, req_.target, req_.minor, 408, sent,
                     took);
      w_.metrics().record(408, kHeadersOnly, sent, took);
    }
    keep = linger = false;
    return;
  }
  const bool first_bytes = have_ == 0;
  have_ += *r;
  drained_ = *r < asked;
  parsed_ = parse_request(in_.first(have_), limits_, req_);
  // The header timeout runs from the request's first byte; read only when a read must wait.
  if (first_bytes && parsed_.status == ParseStatus::Incomplete) started_ = Clock::now();
}

Response Connection::plan() {
  session_.first = false;
  Response r;
  r.began = w_.loop().woke();
  if (Tracer* t = o_.tracer.get()) start_trace(r, *t);
  FileCache& cache = w_.file_cache();
  cache.bind(site_, cache_limits_);
  if (parsed_.status == ParseStatus::Error) {
    // req_ keeps the method and target when the request line was valid (the access log's).
    r.plan = plan_error(parsed_.http_status, false, false, out_);
  } else {
    r.plan = plan_response(*site_, cache, req_, w_.draining(), out_, path_);
    take_small_body(r, cache);
  }
  keep = r.plan.keep_alive;
  state_.phase = Phase::Sending;
  return r;
}

// A small body is read now, so that it leaves with the head in one sendmsg: into the request
// buffer's free tail when it fits there (nothing is read into it again before this response has
// gone), else into a pool buffer.
void Connection::take_small_body(Response& r, FileCache& cache) {
  if (!small_body_fits(r.plan, o_.strategy, o_.chunk_bytes)) return;
  const auto read = [&]() -> Result<SmallBody> {
    const auto length = static_cast<std::size_t>(r.plan.length);
    const auto spare = std::as_writable_bytes(in_.subspan(have_));
    if (length <= spare.size())
      return read_small_body(spare.first(length), r.plan.body_fd(), r.plan.offset);
    return read_small_body(w_.engine().buffers(), r.plan.body_fd(), r.plan.offset, length);
  };
  auto body = read();
  if (!body && body.error().code() == ENODATA && r.plan.cached) {
    // The file shrank inside the revalidation window: plan again from the file as it is.
    cache.drop(std::string_view(path_));
    r.plan = plan_response(*site_, cache, req_, w_.draining(), out_, path_);
    if (small_body_fits(r.plan, o_.strategy, o_.chunk_bytes)) body = read();
  }
  if (body) {
    r.small = std::move(*body);
    r.single_write = true;
  } else if (small_body_fits(r.plan, o_.strategy, o_.chunk_bytes)) {
    fmt::print(stderr, "zcnet serve: {}: {}\n", req_.target, body.error().message());
    r.plan = plan_error(500, false, req_.method == Method::Head, out_);
  }
}

Writes Connection::write_now(const Response& r) {
  Writes wr;
  const auto h = head(r);
  if (!r.single_write) {  // the head alone: written once the socket has room
    wr.want = h.size();
    wr.rest = {h, {}};
    return wr;
  }
  const auto body = r.small.bytes();
  wr.want = h.size() + body.size();
  auto n = send_head_and_body(sock_, h, body);
  if (!n) return wr;  // nothing more to try: sent != want closes the connection
  wr.sent = *n;
  // The socket buffer is full: the rest waits for room (rare on a small body).
  wr.rest = {h.subspan(std::min(*n, h.size())), body.subspan(*n > h.size() ? *n - h.size() : 0)};
  return wr;
}

Sent Connection::written(const Response& r, const Writes& wr) {
  if (wr.sent != wr.want) keep = linger = false;
  if (r.single_write && wr.sent > r.plan.head_bytes)  // the body was read into the buffer
    w_.metrics().body(StrategyKind::ReadWrite, wr.sent - r.plan.head_bytes, 0);
  return {wr.sent,
          r.single_write ? static_cast<std::size_t>(StrategyKind::ReadWrite) : kHeadersOnly,
          wr.sent != wr.want};
}

// The forced strategy, else the selector's choice in server mode, made here with the peer's
// location asked once per connection (no getpeername per response).
Choice Connection::body_choice(const Response& r) const {
  if (o_.strategy != StrategyKind::Auto) {
    Choice c;
    c.strategy = o_.strategy;
    return c;
  }
  return selector_.choose_file_to_socket(r.plan.length, session_.peer_local,
                                         /*nonblocking=*/true, SelectorMode::Server);
}

// What `now` left of the response (all of it when nothing was sent early), as one Transfer.
Transfer Connection::body_transfer(const Response& r, const Choice& choice, const SentNow& now) {
  const Plan& p = r.plan;
  TransferOptions topts;
  topts.strategy = o_.strategy;
  if (o_.strategy == StrategyKind::Auto) topts.choice = choice;
  topts.header = head(r).subspan(now.head);
  topts.chunk_bytes = o_.chunk_bytes;
  // One allocation per response (Transfer::State): it keeps Stats at a stable address.
  return Transfer(w_.engine(), FileRange{p.body_fd(), p.offset + now.body, p.length - now.body},
                  Socket{sock_}, std::move(topts));
}

// `bytes`: head and body bytes the socket took; `error`: why it stopped short, if it did.
Sent Connection::body_sent(const Response& r, StrategyKind how, std::uint64_t bytes,
                           const Error* error) {
  const std::uint64_t want = r.plan.head_bytes + r.plan.length;
  const Sent sent{bytes, static_cast<std::size_t>(how), error || bytes != want};
  if (!sent.cut) return sent;
  keep = linger = false;
  const bool truncated = error ? error->code() == ENODATA : sent.bytes < want;
  if (truncated)
    fmt::print(stderr, "zcnet serve: {} ({}): file truncated while sent: {} of {} bytes: {}\n",
               req_.target, static_cast<const char*>(path_), sent.bytes, want,
               error ? error->message() : std::string("ENODATA (source ended early)"));
  else if (error && !quiet_error(error->code()))
    fmt::print(stderr, "zcnet serve: {}: {}\n", req_.target, error->message());
  return sent;
}

void Connection::start_trace(Response& r, Tracer& t) {
  const auto parent = parsed_.status == ParseStatus::Complete && !req_.traceparent.empty()
                          ? parse_traceparent(req_.traceparent)
                          : std::nullopt;
  r.trace = t.start(parent, req_.target);
  if (!r.trace->sampled() && !t.keeps_tails()) return;
  r.traced.emplace();
  if (parent) {
    r.traced->parent = parent->span_id;
    if (!req_.tracestate.empty() && !req_.tracestate_lines)
      r.traced->state = parse_tracestate(req_.tracestate).value_or(std::string());
  }
  r.traced->began_ns = unix_nanos();
}

// The request's server span and, when a body was sent, its transfer span as a child: when its
// trace is sampled, or the policy keeps it now that its outcome and time are known.
void Connection::end_trace(const Response& r, const Sent& sent, Clock::duration took) {
  const Traced& tr = *r.traced;
  const bool failed = r.plan.status >= 500 || sent.cut;
  Tracer& t = *o_.tracer;
  if (!r.trace->sampled() && !t.keep(failed, took)) return;
  const std::uint64_t end = unix_nanos();
  Span s{.trace_id = r.trace->trace_id,
         .span_id = r.trace->span_id,
         .parent_id = tr.parent,
         .trace_state = tr.state};
  s.name = req_.method_name.empty() ? std::string("HTTP") : std::string(req_.method_name);
  s.start_ns = tr.began_ns;
  s.end_ns = end;
  s.error = failed;
  s.strings = {{"http.request.method", std::string(req_.method_name)},
               {"url.path", std::string(req_.target)},
               {"client.address", session_.peer}};
  s.numbers = {{"http.response.status_code", r.plan.status},
               {"zcnet.bytes_sent", static_cast<std::int64_t>(sent.bytes)}};
  if (tr.body_ns) {
    Span b{.trace_id = s.trace_id,
           .span_id = random_span_id(),
           .parent_id = s.span_id,
           .name = "transfer",
           .kind = 1};
    b.start_ns = tr.body_ns;
    b.end_ns = end;
    b.error = failed;
    const Choice& c = tr.choice;
    b.strings = {{"zcnet.strategy", std::string(to_string(c.strategy))},
                 {"zcnet.choice.reason", std::string(c.reason)}};
    if (c.fell_back_from) {
      b.strings.emplace_back("zcnet.fell_back_from", std::string(to_string(*c.fell_back_from)));
      b.numbers.emplace_back("zcnet.fallback_errno", c.fallback_errno);
    }
    b.numbers.emplace_back("zcnet.body_bytes", static_cast<std::int64_t>(r.plan.length));
    if (const auto& st = tr.stats) {  // what the transfer's steps did after any first send
      const auto num = [&](const char* key, std::uint64_t v) {
        b.numbers.emplace_back(key, static_cast<std::int64_t>(v));
      };
      num("zcnet.syscalls", st->syscalls);
      num("zcnet.bytes_copied", st->bytes_copied_user);
      num("zcnet.waits", st->waits);
      num("zcnet.wait_ns", static_cast<std::uint64_t>(st->waited.count()));
      if (st->zc_completions) {
        num("zcnet.zerocopy_completions", st->zc_completions);
        num("zcnet.zerocopy_copied", st->zc_copied);
      }
    }
    (void)t.emit(std::move(b));
  }
  (void)t.emit(std::move(s));
}

void Connection::account(const Response& r, const SentNow& now, const Transfer& t) {
  const Stats& s = t.stats();
  const std::uint64_t head_rest = r.plan.head_bytes - now.head;  // the transfer sent it first
  const std::uint64_t body = s.bytes > head_rest ? s.bytes - head_rest : 0;
  const std::uint64_t copied = std::min(s.bytes_copied_user, body);
  const Choice& c = t.choice();
  w_.metrics().body(c.strategy, copied, body - copied, s.zc_completions, s.zc_copied);
  if (c.fell_back_from) w_.metrics().fell_back(*c.fell_back_from, c.strategy, c.fallback_errno);
}

void Connection::finish(Response& r, const Sent& sent) {
  r.plan.file.reset();
  r.plan.cached.reset();
  r.small = {};
  const auto now = Clock::now();
  session_.since = now;
  const auto took = now - r.began;
  if (r.traced) end_trace(r, sent, took);
  w_.log_request(r.trace ? &*r.trace : nullptr, session_.peer, req_.method_name, req_.target,
                 req_.minor, r.plan.status, sent.bytes, took);
  w_.metrics().record(r.plan.status, sent.strategy_slot, sent.bytes, took);
  if (parsed_.status == ParseStatus::Complete) {
    std::memmove(in_.data(), in_.data() + parsed_.consumed, have_ - parsed_.consumed);
    have_ -= parsed_.consumed;
  }
}

// Busy: from the first bytes of a request until the socket has no more (After::Idle: the buffer
// and this frame go) or the connection ends (After::Closed). Every response is fully sent here.
Task<After> serve_busy(Worker& w, ConnState& state, UniqueFd& fd, Session& session,
                       const CancelToken& token) {
  Loop& loop = w.loop();
  const ServerOptions& o = session.site->options();
  auto acquired = w.engine().buffers().acquire(o.max_header_bytes + 1 + kHeadReserve);
  if (!acquired) {
    fmt::print(stderr, "zcnet serve: {}\n", acquired.error().message());
    loop.close(std::move(fd));
    co_return After::Closed;
  }
  struct Held {  // counts the buffer out and back in, whichever way this period ends
    WorkerMetrics& m;
    explicit Held(WorkerMetrics& metrics) : m(metrics) { m.buffers_taken.add(); }
    ~Held() { m.buffers_returned.add(); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
  } held(w.metrics());
  const int sock = fd.get();
  Connection c(w, state, sock, std::move(*acquired), session);
  while (c.keep) {
    c.begin_request();
    while (const auto want = c.next_read()) {
      // A short read emptied the socket: Loop::readable may wait without a recv that could
      // only say EAGAIN (a byte that came since completes the wait at once).
      if (want->drained) co_return After::Idle;
      if (want->once) {  // no request byte held: what the socket has now, or idle again
        const sys::IoResult n = sys::recv(sock, want->into.data(), want->into.size(), MSG_DONTWAIT);
        if (n.would_block()) {
          loop.would_block(sock, Direction::Read);
          co_return After::Idle;
        }
        c.received(n.ok() ? Result<std::size_t>(n.n)
                          : Result<std::size_t>(Error(n.err, "recv", describe_fd(sock))),
                   want->into.size());
        continue;
      }
      const IoOptions io(want->deadline, token);  // named: no temporaries inside co_await
      auto r = co_await loop.read(sock, want->into, io);
      c.received(r, want->into.size());
    }
    if (!c.keep) break;

    Response response = c.plan();

    Sent sent;
    if (response.single_write || !response.plan.has_body()) {
      Writes wr = c.write_now(response);
      if (!wr.finished()) {
        const IoOptions io = within(o.send_timeout, token);  // named (loop.hpp)
        for (const auto part : wr.rest) {
          if (part.empty()) continue;
          auto r = co_await loop.write_all(sock, part, io);
          if (!r) break;
          wr.sent += part.size();
        }
      }
      sent = c.written(response, wr);
    } else {
      const Choice choice = c.body_choice(response);
      if (response.traced) {
        response.traced->body_ns = unix_nanos();
        response.traced->choice = choice;
      }
      mark_for_body(sock, session, o, choice.strategy);
      SentNow now;
      if (choice.strategy == StrategyKind::Sendfile)  // what the socket takes at once, now
        now = send_file_now(sock, c.head(response), response.plan.body_fd(), response.plan.offset,
                            response.plan.length);
      if (now.body) w.metrics().body(StrategyKind::Sendfile, 0, now.body);
      if (now.error || now.finished(response.plan.head_bytes, response.plan.length)) {
        sent = c.body_sent(response, choice.strategy, now.head + now.body,
                           now.error ? &*now.error : nullptr);
      } else {  // the rest waits for the socket, in steps of at most step_budget per loop turn
        Transfer t = c.body_transfer(response, choice, now);
        state.sending = &t;
        state.seen_bytes = 0;
        state.last_progress = Clock::now();
        const IoOptions io(token);  // named: no temporaries inside co_await (loop.hpp)
        auto r = co_await transfer(loop, t, io, o.step_budget);
        state.sending = nullptr;
        c.account(response, now, t);
        if (response.traced) {
          response.traced->choice = t.choice();
          response.traced->stats = t.stats();
        }
        sent = c.body_sent(response, t.choice().strategy, now.head + now.body + t.stats().bytes,
                           r ? nullptr : &r.error());
      }
    }
    c.finish(response, sent);
  }
  if (c.linger && !token.cancelled())
    co_await close_lingering(loop, std::move(fd), c.scratch(), token, 1s);
  else
    loop.close(std::move(fd));
  co_return After::Closed;
}

}  // namespace

Task<void> serve_connection(Worker& w, UniqueFd fd) {
  ConnState state;
  Registration reg(w, state);
  Loop& loop = w.loop();
  const int sock = fd.get();
  Session session;
  session.site = w.site();  // pinned for the connection's life
  const ServerOptions& o = session.site->options();
  tune_socket(sock, o.notsent_lowat);
  session.lowat = o.notsent_lowat;
  session.peer_local = peer_is_local(sock);
  if (session.site->access_log_fd() >= 0 || o.tracer) describe_peer(sock, session.peer);
  const CancelToken token = state.cancel.token();
  const IoOptions io(token);  // the timeout is the watchdog's (ConnState::idle_deadline)
  session.since = Clock::now();
  for (;;) {
    // Idle (or not yet sent a byte): only this frame is held, no buffer.
    if (!session.first && w.draining()) break;
    state.phase = session.first ? Phase::Reading : Phase::Idle;
    state.idle_deadline = session.since + (session.first ? o.header_timeout : o.keepalive_timeout);
    auto ready = co_await loop.readable(sock, io);
    state.idle_deadline = Clock::time_point::max();
    if (!ready) break;  // the timeout, or shutdown: closed with no request byte read
    if (co_await serve_busy(w, state, fd, session, token) == After::Closed) co_return;
  }
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

// `zcnet recv`: accepts any number of concurrent senders on one event loop, one coroutine per
// connection. A connection that starts with the hello of wire.hpp carries `length` bytes for
// `offset` of --out; any other stream is raw and goes to offset 0 until EOF. Without --out the
// bytes are read and dropped (a real receiver pays for its copy).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <limits>

#include "commands.hpp"
#include "endpoints.hpp"
#include "report.hpp"
#include "stop_signals.hpp"
#include "transfer_metrics.hpp"
#include "wire.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::cli {

namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kUntilEof = std::numeric_limits<std::uint64_t>::max() - 1;

struct RecvArgs {
  std::string listen, out, backend, metrics;
  int count = 1;
  double grace = 5;
  bool json = false;
};

struct RecvContext {
  Loop& loop;
  Engine& engine;
  const RecvArgs& args;
  int out_fd;  // -1: discard
  TaskGroup& conns;
  TransferMetrics* metrics;  // null without --metrics
  int failed = 0;
};

// What one connection delivered, filled in as it goes (so a failure still reports its bytes).
struct Received {
  std::string peer;
  std::optional<wire::Hello> hello;
  Stats stats;
  std::string strategy = "read-write", reason = "no --out: read and discard";
};

// Reads the first bytes until they are a whole hello, or can no longer be one (raw stream), or
// the stream ends. Never reads past the hello, so the payload is left for the transfer.
Task<Result<std::size_t>> read_head(Loop& l, int fd, wire::HelloBytes& head, Stats& stats,
                                    IoOptions io) {
  std::size_t got = 0;
  while (got < head.size() && wire::may_be_hello(std::span(head).first(got))) {
    ++stats.syscalls;
    auto n = co_await l.read(fd, std::span(head).subspan(got), io);
    if (!n) co_return std::move(n).error();
    if (*n == 0) break;
    got += *n;
  }
  co_return got;
}

// Reads and drops bytes until EOF, or until more than `limit` came (the caller reports that),
// adding them to `stats`. A pool buffer per connection while the pool has one, else the loop's
// bounded recv() buffers.
Task<Result<void>> discard(RecvContext& c, int fd, Stats& stats, std::uint64_t limit,
                           IoOptions io) {
  auto buf = c.engine.buffers().acquire(256 * 1024);
  for (std::uint64_t got = 0; got <= limit;) {
    std::size_t n;
    if (buf) {
      auto r = co_await c.loop.read(fd, buf->span(), io);
      if (!r) co_return std::move(r).error();
      n = *r;
    } else {
      auto r = co_await c.loop.recv(fd, io);
      if (!r) co_return std::move(r).error();
      n = r->size();
    }
    ++stats.syscalls;
    if (n == 0) break;
    got += n;
    stats.bytes += n;
    stats.bytes_copied_user += n;
  }
  co_return Result<void>{};
}

// Moves the socket's bytes to --out at `offset`, `limit` of them (nullopt: until EOF).
Task<Result<void>> write_out(RecvContext& c, int fd, Received& rx, std::uint64_t offset,
                             std::optional<std::uint64_t> limit, IoOptions io) {
  TransferOptions opts;
  opts.limit = limit;
  Transfer t(c.engine, Socket{fd}, FileRange{c.out_fd, offset, {}}, opts);
  auto r = co_await transfer(c.loop, t, io);
  if (c.metrics) c.metrics->transfer(t, r ? TransferMetrics::Ok : TransferMetrics::Failed);
  rx.strategy = to_string(t.choice().strategy);
  rx.reason = t.choice().describe();
  rx.stats += t.stats();
  if (!r) co_return std::move(r).error();
  co_return Result<void>{};
}

Task<Result<void>> receive(RecvContext& c, int fd, Received& rx, IoOptions io) {
  wire::HelloBytes head{};
  auto got = co_await read_head(c.loop, fd, head, rx.stats, io);
  if (!got) co_return std::move(got).error();
  rx.hello = wire::decode(std::span(head).first(*got));
  if (!rx.hello && *got >= wire::kMagic.size() && wire::may_be_hello(head))
    co_return Error(EPROTO, "recv", fmt::format("hello cut short after {} B", *got));
  if (rx.hello && rx.hello->version != wire::kVersion)
    co_return Error(
        EPROTO, "recv",
        fmt::format("hello version {} (this zcnet speaks {})", rx.hello->version, wire::kVersion));

  if (!rx.hello) {  // raw: what read_head took is the first bytes of the payload
    rx.stats.bytes = *got;
    rx.stats.bytes_copied_user = *got;
    if (c.out_fd < 0) co_return co_await discard(c, fd, rx.stats, kUntilEof, io);
    if (*got > 0) {  // under 24 bytes to a regular file: one pwrite takes them all or fails
      const ssize_t w = ::pwrite(c.out_fd, head.data(), *got, 0);
      if (w < 0) co_return last_error("pwrite", c.args.out);
      if (static_cast<std::size_t>(w) != *got) co_return Error(EIO, "pwrite", c.args.out);
    }
    co_return co_await write_out(c, fd, rx, *got, std::nullopt, io);
  }

  const std::uint64_t want = rx.hello->length;
  if (c.out_fd < 0) {
    auto r = co_await discard(c, fd, rx.stats, want, io);
    if (!r) co_return std::move(r).error();
  } else if (want > 0) {
    auto r = co_await write_out(c, fd, rx, rx.hello->offset, want, io);
    // ENODATA: the stream ended short, reported below in the hello's terms.
    if (!r && r.error().code() != ENODATA) co_return std::move(r).error();
  }
  if (rx.stats.bytes < want)
    co_return Error(ENODATA, "recv",
                    fmt::format("sender stopped after {} of the {} B its hello announced",
                                rx.stats.bytes, want));
  if (c.out_fd >= 0) {  // the transfer stopped at `want`: the stream must end there
    std::byte extra[1];
    auto n = co_await c.loop.read(fd, extra, io);
    if (!n) co_return std::move(n).error();
    if (*n > 0) rx.stats.bytes += *n;
  }
  if (rx.stats.bytes > want)
    co_return Error(EPROTO, "recv",
                    fmt::format("more bytes than the {} B its hello announced", want));
  co_return Result<void>{};
}

Task<void> serve_connection(RecvContext& c, UniqueFd fd) {
  const Usage u0 = Usage::now();
  const auto t0 = Clock::now();
  Received rx;
  rx.peer = describe_fd(fd.get());
  if (c.out_fd >= 0) {
    rx.strategy = "none";
    rx.reason = "nothing to write";
  }
  const IoOptions opts(c.conns.token());  // named: see the note on temporaries in serve()
  if (c.metrics) c.metrics->opened();
  auto r = co_await receive(c, fd.get(), rx, opts);
  if (c.metrics) {
    if (c.out_fd < 0) {  // read and dropped: no Transfer counted it
      c.metrics->copied(StrategyKind::ReadWrite, rx.stats.bytes);
      c.metrics->outcome(r ? TransferMetrics::Ok : TransferMetrics::Failed);
    }
    c.metrics->closed();
    c.metrics->sample_pools(c.engine);
  }
  Report rep{"recv",
             rx.stats,
             std::chrono::duration<double>(Clock::now() - t0).count(),
             Usage::now().since(u0),
             rx.strategy,
             rx.reason,
             {}};
  rep.extra = {{"peer", rx.peer},
               {"backend", to_string(c.loop.backend())},
               {"hello", rx.hello.has_value()},
               {"offset", rx.hello ? rx.hello->offset : 0}};
  if (!r) {
    ++c.failed;
    std::string why = rx.peer + ": " + r.error().message();
    if (r.error().code() == ECANCELED) why += " (shutdown deadline passed)";
    fmt::print(stderr, "zcnet recv: {}\n", why);
    rep.extra["error"] = why;
    if (c.args.json) print_report(rep, true);  // humans have the stderr line
  } else {
    print_report(rep, c.args.json);
  }
  c.loop.close(std::move(fd));
}

// Accepts up to --count connections (or until a signal), then drains. `clean` turns false if
// accepting failed.
Task<void> serve(RecvContext& c, UniqueFd& listener, bool& clean) {
  Loop& l = c.loop;
  const CancelToken stop = l.shutdown_token();
  // Named, not braced inside co_await: g++ 12 mishandles temporaries in co_await expressions
  // (a release build crashed copying the token).
  const IoOptions accept_opts(stop);
  for (int accepted = 0; c.args.count <= 0 || accepted < c.args.count; ++accepted) {
    auto fd = co_await l.accept(listener.get(), accept_opts);
    if (!fd) {
      if (fd.error().code() != ECANCELED) {
        fmt::print(stderr, "zcnet recv: {}\n", fd.error().message());
        clean = false;
      }
      break;
    }
    c.conns.spawn(serve_connection(c, std::move(*fd)));
  }
  l.close(std::move(listener));  // stop accepting: queued connections are refused
  // Let what is in flight finish; a signal gives it --grace seconds, then cancels it. The join is
  // sliced so a signal that arrives while draining is seen within 100 ms.
  while (c.conns.size() > 0 && !stop.cancelled()) {
    const auto slice = Clock::now() + 100ms;
    (void)co_await c.conns.join(slice);
  }
  if (c.conns.size() > 0) {
    const auto grace =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.args.grace));
    if (!co_await c.conns.shutdown(Clock::now() + grace))
      fmt::print(stderr, "zcnet recv: shutdown: transfers still running after {} s cancelled\n",
                 c.args.grace);
  }
  if (stop.cancelled()) c.failed = 0;  // asked to stop: failures were reported, exit 0
}

void run_recv(const RecvArgs& a) {
  UniqueFd listener = check(listen_on(a.listen));
  if (::fcntl(listener.get(), F_SETFL, ::fcntl(listener.get(), F_GETFL) | O_NONBLOCK) != 0)
    fail(last_error("fcntl", a.listen));
  UniqueFd out;
  if (!a.out.empty()) {
    out.reset(::open(a.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out) fail(last_error("open", a.out));
  }
  // Declared before the loop: tasks a second signal leaves suspended die with the loop, and
  // their transfers still give buffers and pipes back to this engine then.
  Engine engine;
  std::unique_ptr<TransferMetrics> metrics;
  std::unique_ptr<MetricsEndpoint> endpoint;  // after `metrics`: stops scraping it first
  if (!a.metrics.empty()) {
    metrics = std::make_unique<TransferMetrics>("recv");
    metrics->sample_pools(engine);
    endpoint = start_metrics(a.metrics, "recv",
                             [m = metrics.get()](std::string& text) { m->write(text); });
  }
  std::unique_ptr<Loop> loop = create_loop(a.backend);
  TaskGroup conns(*loop);
  RecvContext ctx{*loop, engine, a, out.get(), conns, metrics.get()};
  // SIGINT/SIGTERM: drain within --grace, then a second signal stops at once. Both Loop calls
  // are thread-safe.
  Loop* l = loop.get();
  StopSignals signals;
  signals.listen([l] { l->request_shutdown(); }, [l] { l->stop(); });
  // Announced once the loop and the handlers are ready: a test may signal as soon as it reads it.
  fmt::print(stderr, "zcnet recv: listening on port {}\n",
             check(zcnet::local_port(listener.get())));
  bool clean = true;
  try {
    loop->block_on(serve(ctx, listener, clean));
  } catch (const std::runtime_error&) {
    if (signals.seen() < 2) throw;
    throw std::runtime_error("recv: stopped by a second signal; transfers in flight were cut");
  }
  if (ctx.failed > 0)
    throw std::runtime_error(fmt::format("recv: {} connection(s) failed", ctx.failed));
  if (!clean) throw std::runtime_error("recv: accepting failed");
}

}  // namespace

void add_recv(CLI::App& app) {
  auto a = std::make_shared<RecvArgs>();
  auto* cmd = app.add_subcommand("recv", "accept TCP connections and receive until EOF");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on")->required();
  cmd->add_option("--out", a->out,
                  "write what arrives here: a hello's piece at its offset, a raw stream from 0 "
                  "(splice where possible)");
  cmd->add_option("--count", a->count,
                  "connections to serve (concurrently), then exit when they end (0: until "
                  "SIGINT/SIGTERM)");
  cmd->add_option("--grace", a->grace,
                  "seconds transfers may run on after SIGINT/SIGTERM before they are cancelled")
      ->check(seconds_check(true));
  add_backend_option(cmd, a->backend);
  cmd->add_option("--metrics", a->metrics,
                  "ADDR:PORT serving Prometheus metrics at /metrics (port 0: any): transfers, "
                  "bytes by strategy, the zero-copy ledger, pools");
  cmd->add_flag("--json", a->json, "print one JSON object per connection");
  cmd->callback([a] { run_recv(*a); });
}

}  // namespace zcnet::cli

#include "bench/bench_server.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>

#include "bench/load.hpp"
#include "transfer_metrics.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::cli {

namespace {

using namespace std::chrono_literals;

struct ServeContext {
  Loop& loop;
  Engine& engine;
  const BenchServerConfig& config;
  ServerTotals& totals;
  bool socket_options_taken = false;
};

nlohmann::json socket_options_of(int fd) {
  auto get = [fd](int level, int name) {
    int v = 0;
    socklen_t len = sizeof v;
    return ::getsockopt(fd, level, name, &v, &len) == 0 ? v : -1;
  };
  return {{"SO_SNDBUF", get(SOL_SOCKET, SO_SNDBUF)},
          {"SO_RCVBUF", get(SOL_SOCKET, SO_RCVBUF)},
          {"TCP_NODELAY", get(IPPROTO_TCP, TCP_NODELAY)},
          {"TCP_MAXSEG", get(IPPROTO_TCP, TCP_MAXSEG)},
#ifdef SO_ZEROCOPY
          {"SO_ZEROCOPY", get(SOL_SOCKET, SO_ZEROCOPY)},
#endif
          {"nonblocking", true}};
}

// The 8-byte request; false at a clean EOF before its first byte.
Task<Result<bool>> read_request(Loop& l, int fd, std::array<std::byte, kLoadRequestBytes>& req,
                                const IoOptions& io) {
  std::size_t got = 0;
  while (got < req.size()) {
    auto n = co_await l.read(fd, std::span(req).subspan(got), io);
    if (!n) co_return std::move(n).error();
    if (*n == 0) {
      if (got == 0) co_return false;
      co_return Error(EPROTO, "bench server", fmt::format("request cut after {} B", got));
    }
    got += *n;
  }
  co_return true;
}

void note(ServerTotals& t, const Error& e) {
  // The load generator cuts what is in flight at its deadline: a reset then is expected.
  if (e.code() == EPIPE || e.code() == ECONNRESET || e.code() == ECANCELED) {
    ++t.cut;
    return;
  }
  ++t.errors;
  if (t.first_error.empty()) t.first_error = e.message();
}

Task<void> serve_connection(ServeContext& c, UniqueFd fd, CancelToken cancel) {
  if (c.config.metrics) c.config.metrics->opened();
  if (!c.socket_options_taken) {
    c.socket_options_taken = true;
    c.totals.socket_options = socket_options_of(fd.get());
  }
  const IoOptions io(std::move(cancel));
  std::array<std::byte, kLoadRequestBytes> req{};
  TransferOptions opts;
  opts.strategy = c.config.strategy;
  opts.allow_fallback = c.config.strategy == StrategyKind::Auto;
  for (;;) {
    auto more = co_await read_request(c.loop, fd.get(), req, io);
    if (!more) {
      note(c.totals, more.error());
      break;
    }
    if (!*more) break;
    const std::uint64_t n = decode_load_request(req);
    if (n == 0 || n > c.config.file_size) {
      note(c.totals,
           Error(EINVAL, "bench server",
                 fmt::format("asked for {} B; the payload has {}", n, c.config.file_size)));
      break;
    }
    // One Transfer (one allocation) per request: the engine's unit of work, as serve uses it.
    Transfer t(c.engine, FileRange{c.config.file_fd, 0, n}, Socket{fd.get()}, opts);
    auto r = co_await transfer(c.loop, t, io);
    c.totals.stats += t.stats();
    ++c.totals.ran[static_cast<std::size_t>(t.choice().strategy)];
    if (c.config.metrics) {
      const bool cut = !r && (r.error().code() == EPIPE || r.error().code() == ECONNRESET ||
                              r.error().code() == ECANCELED);
      c.config.metrics->transfer(t, r     ? TransferMetrics::Ok
                                    : cut ? TransferMetrics::Cut
                                          : TransferMetrics::Failed);
    }
    if (!r) {
      note(c.totals, r.error());
      break;
    }
    ++c.totals.transfers;
  }
  if (c.config.metrics) {
    c.config.metrics->closed();
    c.config.metrics->sample_pools(c.engine);
  }
  c.loop.close(std::move(fd));
}

Task<void> serve(ServeContext& c, UniqueFd& listener) {
  TaskGroup conns(c.loop);
  const CancelToken stop = c.loop.shutdown_token();
  const IoOptions accept_opts(stop);
  for (;;) {
    auto fd = co_await c.loop.accept(listener.get(), accept_opts);
    if (!fd) {
      if (fd.error().code() != ECANCELED) note(c.totals, fd.error());
      break;
    }
    conns.spawn(serve_connection(c, std::move(*fd), conns.token()));
  }
  c.loop.close(std::move(listener));
  if (!co_await conns.shutdown(Clock::now() + 2s)) ++c.totals.errors;
}

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

Result<std::unique_ptr<BenchServer>> BenchServer::start(const BenchServerConfig& config) {
  auto listener = listen_tcp("127.0.0.1", 0);
  if (!listener) return std::move(listener).error();
  auto port = zcnet::local_port(listener->get());
  if (!port) return std::move(port).error();
  std::unique_ptr<BenchServer> s(new BenchServer(config));
  s->port_ = *port;
  std::promise<Result<void>> ready;
  auto started = ready.get_future();
  s->thread_ = std::thread(&BenchServer::run, s.get(), std::move(*listener), std::move(ready));
  auto r = started.get();
  if (!r) {
    s->thread_.join();
    s->stopped_ = true;
    return std::move(r).error();
  }
  return s;
}

void BenchServer::run(UniqueFd listener, std::promise<Result<void>> ready) {
  LoopOptions lo;
  lo.backend = config_.backend;
  auto loop = Loop::create(lo);
  if (!loop) {
    ready.set_value(std::move(loop).error());
    return;
  }
  ThreadPerfCounters perf;
  rusage r0{};
  ::getrusage(RUSAGE_THREAD, &r0);
  {
    EngineOptions eo;
    eo.pool.max_buffers_per_class = config_.max_buffers_per_class;
    Engine engine(eo);
    ServeContext ctx{**loop, engine, config_, totals_};
    totals_.backend = to_string((*loop)->backend());
    {
      std::lock_guard lock(loop_mutex_);
      loop_ = loop->get();
    }
    ready.set_value(Result<void>{});
    (*loop)->block_on(serve(ctx, listener));
    totals_.loop = (*loop)->stats();
    std::lock_guard lock(loop_mutex_);
    loop_ = nullptr;
  }
  rusage r1{};
  ::getrusage(RUSAGE_THREAD, &r1);
  totals_.perf = perf.read();
  totals_.thread_user_s = seconds_of(r1.ru_utime) - seconds_of(r0.ru_utime);
  totals_.thread_sys_s = seconds_of(r1.ru_stime) - seconds_of(r0.ru_stime);
  totals_.thread_voluntary_ctx = r1.ru_nvcsw - r0.ru_nvcsw;
  totals_.thread_involuntary_ctx = r1.ru_nivcsw - r0.ru_nivcsw;
}

ServerTotals BenchServer::stop() {
  if (!stopped_) {
    stopped_ = true;
    {
      std::lock_guard lock(loop_mutex_);
      if (loop_) loop_->request_shutdown();
    }
    thread_.join();
  }
  return totals_;
}

BenchServer::~BenchServer() {
  (void)stop();
}

}  // namespace zcnet::cli

// zcnet::proxy::Proxy: a TCP gateway. Each accepted connection is relayed to one upstream picked
// by the listener's balancing rule; each direction moves socket -> pipe -> socket with splice
// (the bytes never enter user space) or, without a pipe, through a loop buffer. A half-close
// passes through, a reset passes through, and a mirror can receive a copy of the traffic by tee.
//
//   ProxyOptions o;
//   o.listeners.push_back({.listen = "127.0.0.1:8080", .upstreams = {{"127.0.0.1:9000"}}});
//   auto proxy = Proxy::open(std::move(o)).value();
//   std::vector<UniqueFd> listeners;  // one per ListenerOptions, in order
//   listeners.push_back(listen_tcp("127.0.0.1", 8080).value());
//   loop.block_on(proxy->run(loop, std::move(listeners), /*health_checks=*/true));
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/observe/trace.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::proxy {

enum class Balance : std::uint8_t { RoundRobin, LeastConn, Source };
std::string_view to_string(Balance b) noexcept;  // "roundrobin", "leastconn", "source"
std::optional<Balance> parse_balance(std::string_view name) noexcept;

// PROXY protocol header sent to the upstream before any client byte (haproxy.org's
// proxy-protocol.txt): v1 is one text line, v2 a binary block.
enum class ProxyHeader : std::uint8_t { None, V1, V2 };
std::optional<ProxyHeader> parse_proxy_header(std::string_view name) noexcept;  // "v1", "v2"

// How each direction moves its bytes. A burst's first 16 KiB are copied through the worker's
// scratch buffer (a small exchange ends there; a direction in the middle of bulk skips this),
// the rest: Auto: by splice through a pooled pipe where the kernel allows it, else copied.
// Copy: through a 64 KiB pool buffer. UringSplice: the splice path with each splice submitted to
// io_uring (IORING_OP_SPLICE, run by the kernel's io-wq threads); the uring backend only.
enum class DataPath : std::uint8_t { Auto, Splice, UringSplice, Copy };
std::string_view to_string(DataPath p) noexcept;  // "auto", "splice", "uring-splice", "copy"
std::optional<DataPath> parse_data_path(std::string_view name) noexcept;

// A socket address and the HOST:PORT text it came from (what logs and metrics call it).
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string name;
  const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&addr); }
};
// "127.0.0.1:80", "[::1]:80", "localhost:80" (resolved now, the first address getaddrinfo gives).
Result<Address> resolve_address(std::string_view host_port);

struct UpstreamOptions {
  std::string address;  // HOST:PORT
  unsigned weight = 1;  // round robin and source hashing: share of connections (1..256)
  bool backup = false;  // used only while every non-backup upstream is down
};

// Active checks of each upstream. interval 0: none (upstreams are marked down only by failed
// connects, passively, and come back after passive_down).
struct HealthOptions {
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{2000};  // for one check's connect and answer
  unsigned rise = 2;                        // consecutive passes to mark a down upstream up
  unsigned fall = 3;                        // consecutive failures to mark an up upstream down
  std::string http_path;                    // empty: a TCP connect; else GET of this path
  int expect_status = 200;                  // the status an HTTP check wants
};

// Where a copy of the traffic goes: "tcp:HOST:PORT" (one mirror connection per client
// connection and direction) or "file:PATH" (appended, in whole chunks, from every connection).
struct MirrorOptions {
  std::string target;      // empty: no mirror
  bool both_ways = false;  // also upstream -> client (tcp: a second mirror connection)
  // A mirror that could not take its bytes is cut (its pending bytes dropped and counted) and
  // opened again no sooner than this.
  std::chrono::milliseconds reconnect_after{1000};
};

struct ListenerOptions {
  std::string name;    // for logs and metrics; default: the listen address
  std::string listen;  // ADDR:PORT (the caller opens the socket; kept here for reload checks)
  std::vector<UpstreamOptions> upstreams;
  Balance balance = Balance::RoundRobin;
  HealthOptions health;
  // Consecutive failed connects that mark an upstream down without waiting for a check (0: never).
  unsigned passive_fall = 3;
  // How long a passively marked-down upstream stays down when no active check would revive it.
  std::chrono::milliseconds passive_down{10'000};
  ProxyHeader send_proxy = ProxyHeader::None;
  MirrorOptions mirror;
};

struct ProxyOptions {
  std::vector<ListenerOptions> listeners;
  DataPath path = DataPath::Auto;
  std::size_t max_connections = 10000;              // client connections over every run()
  std::chrono::milliseconds connect_timeout{5000};  // per upstream connect attempt
  std::chrono::milliseconds idle_timeout{300'000};  // no byte either way this long: closed
  std::chrono::milliseconds shutdown_grace{10'000};
  // Upstreams tried per connection when connects fail before any client byte went out.
  unsigned max_attempts = 3;
  // Pipes: capacity of each (F_SETPIPE_SZ) and how many one worker may lease at once (each
  // moving direction holds one; an idle one none). Beyond max_pipes a direction copies.
  std::size_t pipe_bytes = 1024 * 1024;
  std::size_t max_pipes = 4096;
  std::uint64_t step_budget = 2 * 1024 * 1024;  // bytes per direction per loop turn
  // TCP_NOTSENT_LOWAT of both sockets of a connection (0: the kernel's default, unlimited here):
  // a sink takes more bytes only while fewer than this wait unsent in it (docs/proxy.md).
  std::uint32_t notsent_lowat = 64 * 1024;
  int access_log_fd = -1;  // one line per connection, buffered per worker; the Config keeps a dup
  // Connection tracing (null: off): a span per relayed connection (raw TCP: nothing is injected
  // into the stream), its trace id at the end of the access-log line.
  std::shared_ptr<Tracer> tracer;
};

class Config;          // one generation: the options, resolved upstream pools, mirror targets
struct UpstreamState;  // one upstream's health and counters, kept across reloads

class Proxy {
 public:
  // Resolves every address; EINVAL for an option out of range or a listener with no upstream.
  static Result<std::unique_ptr<Proxy>> open(ProxyOptions options);
  // The loop backend to run a Proxy on when the user named none: epoll on Linux (a relay waits
  // for readiness and moves bytes with direct splice calls; an edge-triggered wait costs no
  // system call where io_uring's one-shot poll costs a submission), else BackendKind::Auto.
  // Auto too when $ZCNET_BACKEND is set, so that it decides.
  static BackendKind preferred_backend() noexcept;
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Relays connections accepted on `listeners` (nonblocking; one per ListenerOptions, in order)
  // on `loop` until loop.shutdown_token() is cancelled, then stops accepting, lets open
  // connections go on for shutdown_grace and closes what is left. One run() per loop thread.
  // With `health_checks`, this run also performs the active health checks (give it to one run).
  Task<void> run(Loop& loop, std::vector<UniqueFd> listeners, bool health_checks);

  // Graceful reload (SIGHUP): connections accepted from now on use a Config built from
  // `options`; open ones keep theirs. Thread-safe. The number of listeners and their addresses,
  // the workers and the data path stay as started. On error the current Config stays.
  Result<void> reload(ProxyOptions options);
  std::shared_ptr<const Config> config() const;
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  std::size_t connections() const noexcept { return connections_.load(); }
  bool try_enter() noexcept;
  void leave() noexcept { connections_.fetch_sub(1); }

  // Connections, bytes each way by upstream and data path, upstream health, connect errors and
  // retries, mirror bytes sent and dropped, pipes in use.
  void write_metrics(std::string& out) const;

  struct WorkerMetrics;  // per worker (src/proxy/metrics.hpp)
  WorkerMetrics& add_worker_metrics();

 private:
  Proxy() = default;
  Result<std::shared_ptr<const Config>> build(ProxyOptions options);  // takes mu_
  mutable std::mutex mu_;  // guards config_, states_ and metrics_
  std::shared_ptr<const Config> config_;
  // Keyed by listener name and upstream address: what a reload carries over.
  std::vector<std::shared_ptr<UpstreamState>> states_;
  std::vector<std::unique_ptr<WorkerMetrics>> metrics_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> max_connections_{0};
};

}  // namespace zcnet::proxy

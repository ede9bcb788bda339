// zcnet::http::Server: a static file server (RFC 9110/9112, GET and HEAD) whose bodies leave as
// one zcnet::Transfer each: the response header corked with the file (MSG_MORE), the strategy
// picked by the engine's selector.
//
//   auto server = http::Server::open({.root = "/srv/www"}).value();
//   loop.block_on(server->run(loop, std::move(listener)));  // one run() per loop thread
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zcnet/loop/loop.hpp"
#include "zcnet/loop/task.hpp"
#include "zcnet/observe/trace.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {
class PrometheusText;
}

namespace zcnet::http {

struct ServerOptions {
  std::string root;                                     // document root (a directory)
  StrategyKind strategy = StrategyKind::Auto;           // force one for every body
  std::size_t max_connections = 10000;                  // over every run() of this Server
  std::chrono::milliseconds header_timeout{10'000};     // first byte to blank line (slowloris)
  std::chrono::milliseconds keepalive_timeout{75'000};  // idle between requests
  std::chrono::milliseconds send_timeout{60'000};       // no byte accepted by the peer this long
  std::chrono::milliseconds shutdown_grace{10'000};     // responses in flight may finish
  std::size_t max_request_line = 4096;                  // 414 beyond
  std::size_t max_header_bytes = 8192;                  // 431 beyond
  std::size_t max_headers = 64;                         // 431 beyond
  // The options below are nginx-style tuning; each one's measurements are in docs/serve.md and
  // docs/performance.md ("`zcnet serve` against nginx", "TCP_NOTSENT_LOWAT and TCP_NODELAY").
  // Bytes per connection per loop turn (nginx: sendfile_max_chunk): a smaller budget costs
  // sendfile more CPU per GiB.
  std::uint64_t step_budget = 2 * 1024 * 1024;
  // Local-peer bodies the selector would copy go by sendfile up to this size (the selector's
  // server mode, Profile::server_local_sendfile_max_bytes): it keeps the server's CPU per GiB at
  // nginx's under many connections. 0 leaves every choice to the Profile's general rules.
  std::uint64_t server_sendfile_max_bytes = 2 * 1024 * 1024;
  // Chunk of the buffer strategies, one per response in flight (nginx: output_buffers): larger
  // chunks move large bodies faster, for more buffer memory.
  std::size_t chunk_bytes = 256 * 1024;
  // TCP_NOTSENT_LOWAT on every accepted socket, so a body is fed as the peer takes it instead of
  // parked in socket buffers (with TCP_NODELAY, which serve sets too). 0: the kernel's default,
  // for every body (sendfile_notsent_lowat too).
  std::uint32_t notsent_lowat = 64 * 1024;
  // The mark while a body goes by sendfile (set when a connection's body changes between sendfile
  // and a copy; docs/performance.md, "TCP_NOTSENT_LOWAT by how the body goes"). 0: notsent_lowat.
  std::uint32_t sendfile_notsent_lowat = 16 * 1024;
  bool allow_dotfiles = false;
  bool autoindex = false;               // list a directory that has no index.html
  bool allow_symlinks_outside = false;  // follow symlinks that leave the root ("..": never)
  // Open files kept per worker (fd, metadata, header fields), like nginx's open_file_cache;
  // 0 entries: none. An entry is checked against its path (one fstatat) once it is older than
  // open_file_cache_valid: a changed, replaced or deleted file is seen within that time.
  std::size_t open_file_cache_entries = 1024;
  std::chrono::milliseconds open_file_cache_valid{1000};
  int access_log_fd = -1;  // one line per request, buffered per worker; the Site keeps a dup
  // Request tracing (null: off): a server span per request, a child span for its body, the trace
  // id at the end of each access-log line. Shared by every worker and kept across reloads that
  // pass the same Tracer.
  std::shared_ptr<Tracer> tracer;
};

// One configuration generation: the options and the open root they name, immutable once built.
// A connection pins the Site it was accepted under, so a reload never changes a request in flight.
class Site {
 public:
  // Opens the root (ENOTDIR / ENOENT if it is not a directory) and dups the access log fd.
  static Result<std::shared_ptr<const Site>> create(ServerOptions options);
  const ServerOptions& options() const noexcept { return options_; }
  int root_fd() const noexcept { return root_.get(); }
  int access_log_fd() const noexcept { return log_.get(); }
  // Opens the root-relative, normalized `rel` (no ".." segments): beneath the root, or with
  // allow_symlinks_outside, following symlinks wherever they lead.
  Result<UniqueFd> open_file(const char* rel) const;

  Site(ServerOptions options, UniqueFd root, UniqueFd log)
      : options_(std::move(options)), root_(std::move(root)), log_(std::move(log)) {}

 private:
  ServerOptions options_;
  UniqueFd root_;
  UniqueFd log_;
};

struct WorkerMetrics;  // per-worker counters (src/http/metrics.hpp)

class Server {
 public:
  // Opens the root (ENOTDIR / ENOENT if it is not a directory).
  static Result<std::unique_ptr<Server>> open(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `listener` (nonblocking) on `loop` until loop.shutdown_token() is cancelled, then
  // stops accepting, closes idle connections, lets responses in flight finish within
  // shutdown_grace and cancels what is left. One run() per loop; runs may share a Server.
  Task<void> run(Loop& loop, UniqueFd listener);

  // Graceful reload (SIGHUP): connections accepted from now on get a Site built from `options`;
  // those open keep theirs until they close. Thread-safe. On error the current Site stays.
  // The worker count, pools and listeners stay as they were started.
  Result<void> reload(ServerOptions options);
  // The current Site (takes a mutex: workers call it only when generation() moved).
  std::shared_ptr<const Site> site() const;
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  std::size_t connections() const noexcept { return connections_.load(); }

  // Prometheus text exposition (format 0.0.4) of every worker's counters, summed: requests by
  // status, response bytes by strategy, open connections, the request duration histogram.
  void write_metrics(std::string& out) const;
  // A worker's own counters block, owned by the Server so counts outlive the worker.
  WorkerMetrics& add_worker_metrics();

  // Counts a connection in if there is room (max_connections); leave() for each success.
  bool try_enter() noexcept;
  void leave() noexcept { connections_.fetch_sub(1); }

 private:
  explicit Server(std::shared_ptr<const Site> site);
  void write_ledger(PrometheusText& p) const;
  mutable std::mutex mu_;  // guards site_ and metrics_ (reload, worker start, scrape)
  std::shared_ptr<const Site> site_;
  std::vector<std::unique_ptr<WorkerMetrics>> metrics_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> max_connections_;
  std::atomic<std::size_t> connections_{0};
};

}  // namespace zcnet::http

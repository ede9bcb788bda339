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
#include <string>

#include "zcnet/error.hpp"
#include "zcnet/fd.hpp"
#include "zcnet/loop.hpp"
#include "zcnet/strategy.hpp"
#include "zcnet/task.hpp"

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
  std::uint64_t step_budget = 512 * 1024;  // bytes per connection per turn (sendfile_max_chunk)
  std::size_t chunk_bytes = 64 * 1024;     // buffer-based strategies' chunk (one per sender)
  bool allow_dotfiles = false;
  int access_log_fd = -1;  // one line per request, buffered per worker; the caller owns the fd
};

class Server {
 public:
  // Opens the root (ENOTDIR / ENOENT if it is not a directory).
  static Result<std::unique_ptr<Server>> open(ServerOptions options);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves `listener` (nonblocking) on `loop` until loop.shutdown_token() is cancelled, then
  // stops accepting, closes idle connections, lets responses in flight finish within
  // shutdown_grace and cancels what is left. One run() per loop; runs may share a Server.
  Task<void> run(Loop& loop, UniqueFd listener);

  const ServerOptions& options() const noexcept { return options_; }
  int root_fd() const noexcept { return root_.get(); }
  std::size_t connections() const noexcept { return connections_.load(); }

  // Counts a connection in if there is room (max_connections); leave() for each success.
  bool try_enter() noexcept;
  void leave() noexcept { connections_.fetch_sub(1); }

 private:
  explicit Server(ServerOptions options, UniqueFd root)
      : options_(std::move(options)), root_(std::move(root)) {}
  ServerOptions options_;
  UniqueFd root_;
  std::atomic<std::size_t> connections_{0};
};

}  // namespace zcnet::http

// Site (one configuration generation) and the Server's reload: a new Site is built whole, then
// swapped in under the Server's mutex; workers notice the generation change and pick it up for
// the connections they accept next.
#include <fcntl.h>
#include <unistd.h>

#include "http/metrics.hpp"
#include "sys/faults.hpp"
#include "sys/open_beneath.hpp"
#include "zcnet/http/server.hpp"

namespace zcnet::http {

Result<std::shared_ptr<const Site>> Site::create(ServerOptions options) {
  UniqueFd root(::open(options.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return last_error("open root", options.root);
  UniqueFd log;
  if (options.access_log_fd >= 0) {
    // The Site's own copy: it lives as long as a worker or connection still holds the Site.
    log.reset(::fcntl(options.access_log_fd, F_DUPFD_CLOEXEC, 0));
    if (!log) return last_error("dup access log", options.root);
  }
  return std::make_shared<const Site>(std::move(options), std::move(root), std::move(log));
}

Result<UniqueFd> Site::open_file(const char* rel) const {
  if (!options_.allow_symlinks_outside) return sys::open_beneath(root_.get(), rel);
  // `rel` is normalized (no "..", no leading '/'), so only a symlink can lead out, as allowed.
  if (int err = sys::faults::inject_fd(sys::faults::FdCall::Open)) return Error(err, "openat", rel);
  UniqueFd fd(
      ::openat(root_.get(), *rel ? rel : ".", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return last_error("openat", rel);
  return fd;
}

Server::Server(std::shared_ptr<const Site> site)
    : site_(std::move(site)), max_connections_(site_->options().max_connections) {}

Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::open(ServerOptions options) {
  auto site = Site::create(std::move(options));
  if (!site) return site.error();
  return std::unique_ptr<Server>(new Server(std::move(*site)));
}

Result<void> Server::reload(ServerOptions options) {
  auto site = Site::create(std::move(options));
  if (!site) return site.error();
  std::lock_guard lock(mu_);
  max_connections_.store((*site)->options().max_connections);
  site_ = std::move(*site);
  generation_.fetch_add(1, std::memory_order_release);
  return {};
}

std::shared_ptr<const Site> Server::site() const {
  std::lock_guard lock(mu_);
  return site_;
}

bool Server::try_enter() noexcept {
  std::size_t n = connections_.load();
  while (n < max_connections_.load(std::memory_order_relaxed))
    if (connections_.compare_exchange_weak(n, n + 1)) return true;
  return false;
}

}  // namespace zcnet::http

#include "zcnet/observe/metrics_endpoint.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "zcnet/observe/prometheus.hpp"

namespace zcnet {

namespace {

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(UniqueFd listener,
                                                                Collect collect) {
  if (!listener) return Error(EBADF, "metrics endpoint", "no listening socket");
  std::unique_ptr<MetricsEndpoint> ep(new MetricsEndpoint(std::move(listener), std::move(collect)));
  ep->thread_ = std::thread([p = ep.get()] { p->run(); });
  return ep;
}

MetricsEndpoint::MetricsEndpoint(UniqueFd listener, Collect collect)
    : listener_(std::move(listener)), collect_(std::move(collect)) {}

MetricsEndpoint::~MetricsEndpoint() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void MetricsEndpoint::run() {
  while (!stop_.load()) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;  // 200 ms: how soon the destructor is seen
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;  // EAGAIN (another accept won), ECONNABORTED, EMFILE: next round
    const timeval tv{2, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    answer(client.get());
  }
}

void MetricsEndpoint::answer(int client) {
  // The request head only; a scrape has no body.
  char req[4096];
  std::size_t have = 0;
  while (have < sizeof req) {
    ssize_t n = ::recv(client, req + have, sizeof req - have, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    have += static_cast<std::size_t>(n);
    if (std::string_view(req, have).find("\r\n\r\n") != std::string_view::npos) break;
  }
  const std::string_view head(req, have);
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const bool get = line.starts_with("GET ");
  const bool headreq = line.starts_with("HEAD ");
  std::string_view target = line.substr(line.find(' ') + 1);
  target = target.substr(0, target.find(' '));
  target = target.substr(0, target.find('?'));
  std::string body;
  int status = 200;
  std::string_view type = kPrometheusContentType;
  if (!get && !headreq) {
    status = 405;
    body = "405 Method Not Allowed\n";
    type = "text/plain; charset=utf-8";
  } else if (target != "/metrics") {
    status = 404;
    body = "404 Not Found: try /metrics\n";
    type = "text/plain; charset=utf-8";
  } else {
    collect_(body);
  }
  const char* reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Method Not Allowed";
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
      status, reason, type, body.size());
  if (!headreq) out += body;
  (void)send_all(client, out);
  ::shutdown(client, SHUT_WR);
}

}  // namespace zcnet

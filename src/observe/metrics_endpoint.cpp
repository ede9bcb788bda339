#include "zcnet/observe/metrics_endpoint.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
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

std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    default:
      return "Error";
  }
}

}  // namespace

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(UniqueFd listener, Collect collect,
                                                                Route route) {
  if (!listener) return Error(EBADF, "metrics endpoint", "no listening socket");
  std::unique_ptr<MetricsEndpoint> ep(
      new MetricsEndpoint(std::move(listener), std::move(collect), std::move(route)));
  ep->thread_ = std::thread([p = ep.get()] { p->run(); });
  return ep;
}

MetricsEndpoint::MetricsEndpoint(UniqueFd listener, Collect collect, Route route)
    : listener_(std::move(listener)), collect_(std::move(collect)), route_(std::move(route)) {}

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
  // The head, then a body of Content-Length bytes (at most kMaxBody).
  constexpr std::size_t kMaxHead = 4096, kMaxBody = 64 * 1024;
  std::string req;
  std::size_t head_end = std::string::npos;
  char buf[4096];
  while (head_end == std::string::npos && req.size() < kMaxHead) {
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    req.append(buf, static_cast<std::size_t>(n));
    head_end = req.find("\r\n\r\n");
  }
  if (head_end == std::string::npos) return;
  const std::string head = req.substr(0, head_end + 2);
  std::size_t length = 0;
  for (std::size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size();
       at = head.find("\r\n", at + 2)) {
    std::string field = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
    for (std::size_t i = 0; i < field.size() && field[i] != ':'; ++i)
      field[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(field[i])));
    if (field.rfind("content-length:", 0) == 0)
      length = std::strtoull(field.c_str() + 15, nullptr, 10);
  }
  std::string body = req.substr(head_end + 4);
  while (length <= kMaxBody && body.size() < length) {
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    body.append(buf, static_cast<std::size_t>(n));
  }
  if (body.size() > length) body.resize(length);  // bytes after the body are not part of it
  const std::string_view line = std::string_view(head).substr(0, head.find("\r\n"));
  const std::string_view method = line.substr(0, line.find(' '));
  std::string_view target = line.substr(line.find(' ') + 1);
  target = target.substr(0, target.find(' '));
  target = target.substr(0, target.find('?'));
  const bool headreq = method == "HEAD";
  EndpointReply reply;
  if (length > kMaxBody) {
    reply = {413, "413 Content Too Large: at most 64 KiB\n"};
  } else if (target == "/metrics" && collect_ && (method == "GET" || headreq)) {
    reply.type = std::string(kPrometheusContentType);
    collect_(reply.body);
  } else if (target == "/metrics" && collect_) {
    reply = {405, "405 Method Not Allowed\n"};
  } else {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char peer[INET6_ADDRSTRLEN + 8] = "-";
    if (::getpeername(client, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in&>(ss).sin_addr, peer, sizeof peer);
      else if (ss.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr, peer, sizeof peer);
    }
    std::optional<EndpointReply> routed;
    if (route_) routed = route_(EndpointRequest{method, target, body, peer});
    reply =
        routed ? std::move(*routed)
               : EndpointReply{404, collect_ ? "404 Not Found: try /metrics\n" : "404 Not Found\n"};
  }
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: "
      "close\r\n\r\n",
      reply.status, reason(reply.status), reply.type, reply.body.size());
  if (!headreq) out += reply.body;
  (void)send_all(client, out);
  ::shutdown(client, SHUT_WR);
}

}  // namespace zcnet

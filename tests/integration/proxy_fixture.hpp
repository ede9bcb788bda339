// A zcnet::proxy::Proxy running on its own loop threads, and the blocking peers the proxy tests
// put around it: upstream servers with a handler per connection, a client that sends and
// receives at once, all on real loopback sockets.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "zcnet/loop/loop_group.hpp"
#include "zcnet/proxy/proxy.hpp"

namespace zcnet::test {

// What one side of a connection read until EOF (or an error).
struct Got {
  std::uint64_t bytes = 0;
  std::uint64_t hash = 0;
  int err = 0;       // errno that ended the reading (0: EOF)
  std::string head;  // the first bytes (up to 256)
};

// Reads `fd` until EOF or error, hashing everything (blocking). Bounded by SO_RCVTIMEO: 20 s
// without a byte ends it with EAGAIN.
inline Got read_to_end(int fd, std::size_t skip_hash = 0) {
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::byte> buf(256 * 1024);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  Got g;
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      g.err = errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n && g.head.size() < 256; ++i)
      g.head.push_back(static_cast<char>(buf[static_cast<std::size_t>(i)]));
    std::size_t from = 0;
    if (g.bytes < skip_hash)
      from = static_cast<std::size_t>(std::min<std::uint64_t>(skip_hash - g.bytes, n));
    XXH3_64bits_update(st, buf.data() + from, static_cast<std::size_t>(n) - from);
    g.bytes += static_cast<std::uint64_t>(n);
  }
  g.hash = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return g;
}

// Writes all of `bytes` (blocking, SIGPIPE-free). 0 or the errno.
inline int write_all(int fd, const std::vector<std::byte>& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    off += static_cast<std::size_t>(n);
  }
  return 0;
}

inline std::uint64_t pattern_hash(std::size_t n, std::uint64_t seed) {
  const auto p = pattern(n, seed);
  return hash_bytes(p.data(), p.size());
}

// A blocking TCP server on 127.0.0.1: each accepted connection runs `handler` on a thread of its
// own. stop() closes the listener and shuts every open connection down (a dead upstream).
class Upstream {
 public:
  using Handler = std::function<void(int fd, std::size_t index)>;
  explicit Upstream(Handler h, std::uint16_t port = 0) : handler_(std::move(h)) { open(port); }
  ~Upstream() { stop(); }
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::size_t connections() const { return accepted_.load(); }

  void open(std::uint16_t port) {
    UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(l.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(l.get(), 1024) != 0)
      throw std::runtime_error("upstream: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listener_ = std::move(l);
    stopping_ = false;
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  void stop() {
    if (!acceptor_.joinable()) return;
    stopping_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    acceptor_.join();
    listener_.reset();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        if (stopping_) return;
        continue;
      }
      if (stopping_) return;
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      const std::size_t index = accepted_.fetch_add(1);
      {
        std::lock_guard lock(mu_);
        open_.push_back(fd);
      }
      threads_.emplace_back([this, fd, index] {
        handler_(fd, index);
        {
          std::lock_guard lock(mu_);
          std::erase(open_, fd);
        }
        ::close(fd);
      });
    }
  }

  Handler handler_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::vector<int> open_;
};

// A proxy on `workers` loop threads of the given backend.
class RunningProxy {
 public:
  RunningProxy(proxy::ProxyOptions o, const std::string& backend, std::size_t workers = 1) {
    for (auto& l : o.listeners)
      if (l.listen.empty()) l.listen = "127.0.0.1:0";
    auto p = proxy::Proxy::open(o);
    if (!p) throw std::runtime_error(p.error().message());
    proxy_ = std::move(*p);
    LoopGroupOptions go;
    go.threads = workers;
    go.loop.backend = *parse_backend(backend);
    ListenOptions lo;
    lo.reuse_port = true;
    listeners_.resize(workers);
    for (std::size_t li = 0; li < o.listeners.size(); ++li) {
      std::uint16_t port = 0;
      for (std::size_t i = 0; i < workers; ++i) {
        auto fd = listen_tcp("127.0.0.1", port, lo);
        if (!fd) throw std::runtime_error(fd.error().message());
        if (port == 0) port = *local_port(fd->get());
        listeners_[i].push_back(std::move(*fd));
      }
      ports_.push_back(port);
    }
    group_ = std::make_unique<LoopGroup>(go);
    auto started = group_->start([this](Loop& loop, std::size_t i) -> Task<void> {
      return proxy_->run(loop, std::move(listeners_[i]), i == 0);
    });
    if (!started) throw std::runtime_error(started.error().message());
  }
  ~RunningProxy() { stop(); }
  void stop() {
    if (!group_) return;
    group_->request_shutdown();
    group_->join();
    group_.reset();
  }
  std::uint16_t port(std::size_t listener = 0) const { return ports_[listener]; }
  proxy::Proxy& proxy() { return *proxy_; }
  std::string metrics() const {
    std::string out;
    proxy_->write_metrics(out);
    return out;
  }
  // The value of the first sample whose line starts with `prefix` (name and labels), or -1.
  double metric(std::string_view prefix) const {
    const std::string m = metrics();
    std::size_t at = 0;
    while ((at = m.find(prefix, at)) != std::string::npos) {
      if (at == 0 || m[at - 1] == '\n') {
        const auto space = m.find(' ', at + prefix.size());
        return std::stod(m.substr(space + 1));
      }
      at += prefix.size();
    }
    return -1;
  }

 private:
  std::unique_ptr<proxy::Proxy> proxy_;
  std::unique_ptr<LoopGroup> group_;
  std::vector<std::vector<UniqueFd>> listeners_;
  std::vector<std::uint16_t> ports_;
};

inline proxy::ProxyOptions one_listener(std::vector<std::string> upstreams,
                                        proxy::DataPath path = proxy::DataPath::Auto) {
  proxy::ProxyOptions o;
  proxy::ListenerOptions l;
  l.name = "test";
  l.listen = "127.0.0.1:0";
  for (auto& u : upstreams) l.upstreams.push_back({u, 1, false});
  o.listeners.push_back(l);
  o.path = path;
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.shutdown_grace = std::chrono::milliseconds(2000);
  return o;
}

// Polls `cond` every 10 ms for up to `wait`.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// A port nothing listens on (bound, then closed).
inline std::uint16_t closed_port() {
  Listener l = listen_loopback();
  return l.port;
}

}  // namespace zcnet::test

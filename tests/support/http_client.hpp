// A raw HTTP/1.1 client over a blocking loopback socket, able to send anything (malformed
// requests, pipelined batches, byte-at-a-time trickles), and a `zcnet serve` child process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zcnet/sys/fd.hpp"

namespace zcnet::test {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has(std::string_view name) const;
  std::string header(std::string_view name) const;  // "" if absent
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10), int rcvbuf = 0);
  int fd() const { return fd_.get(); }
  bool send(std::string_view raw);
  // One recv(2) straight from the socket (bypassing what read_response buffered), retried on
  // EINTR: the bytes it took, 0 at EOF, -1 on error or timeout.
  ssize_t recv_some(void* out, std::size_t n, int flags = 0);
  // One response; `no_body` for HEAD requests. nullopt if the connection ended (or timed out)
  // before a whole response arrived.
  std::optional<HttpResponse> read_response(bool no_body = false);
  // "GET <target> HTTP/1.1" with Host and `extra` header lines ("Range: bytes=0-1\r\n").
  std::optional<HttpResponse> request(std::string_view target, std::string_view extra = {},
                                      std::string_view method = "GET");
  // True if the peer closed (EOF or reset) within `wait`; bytes that arrive first are dropped.
  bool closed_within(std::chrono::milliseconds wait);
  // Reads until EOF/reset/timeout; returns the bytes received (after anything buffered).
  std::uint64_t drain();
  void reset();  // close with SO_LINGER 0: the peer sees ECONNRESET

 private:
  bool fill();  // one recv into buf_; false on EOF, error or timeout
  UniqueFd fd_;
  std::string buf_;
};

// `$ZCNET_CLI serve --root ROOT --listen 127.0.0.1:0 ARGS...`, stderr kept in a file (an empty
// ROOT passes no --root: a --config in ARGS names it).
class ServeProcess {
 public:
  ServeProcess(const std::string& root, const std::vector<std::string>& args);
  ~ServeProcess();
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  int terminate(std::chrono::milliseconds wait = std::chrono::seconds(20));  // SIGTERM; exit code
  std::string log() const;     // what it wrote to stderr so far
  void signal(int sig) const;  // e.g. SIGHUP
  // Waits until stderr holds `text` at least `times` times; false after `wait`.
  bool wait_for_log(std::string_view text, int times = 1,
                    std::chrono::milliseconds wait = std::chrono::seconds(10)) const;

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string err_path_;
};

}  // namespace zcnet::test

// Test support: real loopback sockets, real temp files, and a receiver that hashes what arrives.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "zcnet/sys/fd.hpp"

namespace zcnet::test {

// The readiness backend this build has: epoll on Linux, poll() in the portable build.
#ifdef ZCNET_PORTABLE
inline constexpr const char* kReactorBackend = "poll";
#else
inline constexpr const char* kReactorBackend = "epoll";
#endif

// XXH3-64 of a byte range.
std::uint64_t hash_bytes(const void* data, std::size_t n);

// Deterministic pseudo-random bytes (seeded), so both ends can be checked by hash.
std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed = 1);

// A temporary regular file, deleted with the object.
class TempFile {
 public:
  // A file of `size` pseudo-random bytes; its content is in the page cache afterwards.
  static TempFile with_pattern(std::size_t size, std::uint64_t seed = 1);
  static TempFile empty();
  TempFile(TempFile&&) = default;
  TempFile& operator=(TempFile&&) = default;
  ~TempFile();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  std::uint64_t size() const;
  // XXH3 of [offset, offset+length) as the file holds it now.
  std::uint64_t hash(std::uint64_t offset = 0, std::uint64_t length = UINT64_MAX) const;

 private:
  TempFile() = default;
  UniqueFd fd_;
  std::string path_;
};

// A connected TCP pair on 127.0.0.1: first = the client end, second = the accepted end.
std::pair<UniqueFd, UniqueFd> tcp_pair(bool nonblocking_client = false);
// A Unix stream socketpair.
std::pair<UniqueFd, UniqueFd> unix_pair();
// A pipe: first = read end, second = write end.
std::pair<UniqueFd, UniqueFd> make_pipe(bool nonblocking = false);
void set_nonblocking(int fd, bool on = true);

// Reads `fd` on its own thread until EOF (or error), hashing and counting every byte.
class Receiver {
 public:
  explicit Receiver(UniqueFd fd);
  ~Receiver();  // joins
  // Waits for EOF and returns {bytes, hash}. errno_seen != 0 if the read loop ended in an error.
  struct Result {
    std::uint64_t bytes = 0;
    std::uint64_t hash = 0;
    int errno_seen = 0;
  };
  Result wait();

 private:
  UniqueFd fd_;
  std::thread thread_;
  Result result_;
};

// A TCP listener on 127.0.0.1 with an ephemeral port.
struct Listener {
  UniqueFd fd;
  std::uint16_t port = 0;
};
Listener listen_loopback();
UniqueFd connect_loopback(std::uint16_t port);
// connect() on a blocking socket that survives EINTR (a signal, or io_uring's task-work
// notification, can interrupt the wait for the handshake): the attempt goes on in the kernel, so
// wait for writability and take its result from SO_ERROR. 0 or the errno.
int connect_blocking(int fd, const sockaddr_in& to);
UniqueFd accept_one(int listen_fd);

}  // namespace zcnet::test

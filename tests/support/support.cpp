#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace zcnet::test {

std::uint64_t hash_bytes(const void* data, std::size_t n) {
  return XXH3_64bits(data, n);
}

std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> out(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<std::byte>(i * 131 + seed);
  return out;
}

static void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

TempFile TempFile::empty() {
  TempFile f;
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl = std::string(dir ? dir : "/tmp") + "/zcnet-test-XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail("mkstemp");
  f.fd_.reset(fd);
  f.path_ = tmpl;
  return f;
}

TempFile TempFile::with_pattern(std::size_t size, std::uint64_t seed) {
  TempFile f = empty();
  constexpr std::size_t kChunk = 8 << 20;
  std::size_t done = 0;
  while (done < size) {
    std::size_t n = std::min(kChunk, size - done);
    // Seed per chunk so large files need not be built in memory at once.
    auto bytes = pattern(n, seed + done / kChunk);
    std::size_t off = 0;
    while (off < n) {
      ssize_t w = ::pwrite(f.fd(), bytes.data() + off, n - off, static_cast<off_t>(done + off));
      if (w < 0) fail("pwrite");
      off += static_cast<std::size_t>(w);
    }
    done += n;
  }
  return f;
}

TempFile::~TempFile() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::uint64_t TempFile::size() const {
  struct stat st {};
  if (::fstat(fd(), &st) != 0) fail("fstat");
  return static_cast<std::uint64_t>(st.st_size);
}

std::uint64_t TempFile::hash(std::uint64_t offset, std::uint64_t length) const {
  std::uint64_t end = std::min(size(), length == UINT64_MAX ? UINT64_MAX : offset + length);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  std::vector<char> buf(1 << 20);
  for (std::uint64_t pos = offset; pos < end;) {
    ssize_t r = ::pread(fd(), buf.data(), std::min<std::uint64_t>(buf.size(), end - pos),
                        static_cast<off_t>(pos));
    if (r < 0) fail("pread");
    if (r == 0) break;
    XXH3_64bits_update(st, buf.data(), static_cast<std::size_t>(r));
    pos += static_cast<std::uint64_t>(r);
  }
  std::uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

void set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

Listener listen_loopback() {
  Listener l;
  l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l.fd) fail("socket");
  int one = 1;
  ::setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail("bind");
  if (::listen(l.fd.get(), 1024) != 0) fail("listen");
  socklen_t len = sizeof a;
  ::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  l.port = ntohs(a.sin_port);
  return l;
}

UniqueFd connect_loopback(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (int err = connect_blocking(fd.get(), a); err != 0) {
    errno = err;
    fail("connect");
  }
  return fd;
}

int connect_blocking(int fd, const sockaddr_in& to) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) return 0;
  if (errno != EINTR) return errno;
  pollfd p{fd, POLLOUT, 0};
  int n;
  while ((n = ::poll(&p, 1, 10'000)) < 0 && errno == EINTR) {
  }
  if (n == 0) return ETIMEDOUT;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

UniqueFd accept_one(int listen_fd) {
  UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) fail("accept");
  return fd;
}

std::pair<UniqueFd, UniqueFd> tcp_pair(bool nonblocking_client) {
  Listener l = listen_loopback();
  UniqueFd c = connect_loopback(l.port);
  UniqueFd s = accept_one(l.fd.get());
  if (nonblocking_client) set_nonblocking(c.get());
  return {std::move(c), std::move(s)};
}

std::pair<UniqueFd, UniqueFd> unix_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

std::pair<UniqueFd, UniqueFd> make_pipe(bool nonblocking) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) != 0) fail("pipe2");
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

Receiver::Receiver(UniqueFd fd) : fd_(std::move(fd)) {
  thread_ = std::thread([this] {
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t r = ::read(fd_.get(), buf.data(), buf.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        result_.errno_seen = errno;
        break;
      }
      if (r == 0) break;
      XXH3_64bits_update(st, buf.data(), static_cast<std::size_t>(r));
      result_.bytes += static_cast<std::uint64_t>(r);
    }
    result_.hash = XXH3_64bits_digest(st);
    XXH3_freeState(st);
  });
}

Receiver::~Receiver() {
  // A test that failed early still holds the sending end open: end the read loop instead of
  // waiting forever for an EOF that would never come.
  if (thread_.joinable()) {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
}

Receiver::Result Receiver::wait() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

}  // namespace zcnet::test

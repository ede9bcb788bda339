// Test helpers for driving one strategy directly: a context with real pools, a poll() loop over
// what each step waits on, and peers that misbehave on purpose (reset midway, read slowly).
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "support.hpp"
#include "zcnet/pool/buffer_pool.hpp"
#include "zcnet/pool/pipe_pool.hpp"
#include "zcnet/sys/capabilities.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet::test {

// What a strategy may use, owned by the test.
struct Harness {
  Stats stats;
  BufferPool buffers;
  PipePool pipes{1024 * 1024};
  StrategyContext ctx;

  Harness() {
    ctx.stats = &stats;
    ctx.buffers = &buffers;
    ctx.pipes = &pipes;
    ctx.caps = &Capabilities::probe();
  }

  std::unique_ptr<Strategy> make(StrategyKind kind, const Source& src, const Sink& dst) {
    auto made = make_strategy(kind, src, dst, ctx);
    EXPECT_TRUE(made) << made.error().message();
    return made ? std::move(*made) : nullptr;
  }
};

struct Driven {
  Outcome last;  // the step that ended the drive (done, error, not handled, or timed out)
  std::uint64_t bytes = 0;
  int steps = 0;
  int waits = 0;
  bool timed_out = false;

  bool ok() const { return last.done && !last.error; }
  int error_code() const { return last.error ? last.error->code() : 0; }
  std::string error_text() const { return last.error ? last.error->message() : "no error"; }
};

// Steps `s` until done, an error, handled == false, or `idle_ms` without readiness, poll()ing on
// whatever a step waits for. `between` runs after every step (tests truncate files there).
inline Driven drive(Strategy& s, std::uint64_t budget = kNoBudget,
                    const std::function<void(const Driven&)>& between = {}, int idle_ms = 20000) {
  Driven d;
  for (;;) {
    d.last = s.step(budget);
    ++d.steps;
    d.bytes += d.last.bytes;
    if (between) between(d);
    if (d.last.done || d.last.error || !d.last.handled) return d;
    if (!d.last.wait) continue;
    ++d.waits;
    pollfd p{d.last.wait->fd,
             static_cast<short>(d.last.wait->dir == Direction::Read ? POLLIN : POLLOUT), 0};
    int rc = ::poll(&p, 1, idle_ms);
    if (rc == 0) {
      d.timed_out = true;
      return d;
    }
  }
}

// Reads `fd` until `after` bytes arrived, then closes it with SO_LINGER 0: the peer gets a RST.
class ResettingPeer {
 public:
  ResettingPeer(UniqueFd fd, std::size_t after) : fd_(std::move(fd)) {
    thread_ = std::thread([this, after] {
      std::vector<char> buf(64 * 1024);
      std::size_t got = 0;
      while (got < after) {
        ssize_t r = ::read(fd_.get(), buf.data(), buf.size());
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
      }
      linger lg{1, 0};
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      fd_.reset();
    });
  }
  ~ResettingPeer() { thread_.join(); }

 private:
  UniqueFd fd_;
  std::thread thread_;
};

// Reads `fd` slowly (a pause per chunk) until release() is called, then at full speed to EOF.
class SlowReceiver {
 public:
  explicit SlowReceiver(UniqueFd fd, std::size_t chunk = 64 * 1024) : fd_(std::move(fd)) {
    thread_ = std::thread([this, chunk] {
      XXH3_state_t* st = XXH3_createState();
      XXH3_64bits_reset(st);
      std::vector<char> buf(chunk);
      for (;;) {
        if (!released_) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ssize_t r = ::read(fd_.get(), buf.data(), released_ ? buf.size() : chunk);
        if (r <= 0) break;
        XXH3_64bits_update(st, buf.data(), static_cast<std::size_t>(r));
        bytes_ += static_cast<std::uint64_t>(r);
      }
      hash_ = XXH3_64bits_digest(st);
      XXH3_freeState(st);
    });
  }
  ~SlowReceiver() { wait(); }
  std::uint64_t bytes() const { return bytes_; }
  void release() { released_ = true; }
  std::uint64_t wait() {
    released_ = true;
    if (thread_.joinable()) thread_.join();
    return bytes_;
  }
  std::uint64_t hash() const { return hash_; }

 private:
  UniqueFd fd_;
  std::atomic<bool> released_{false};
  std::atomic<std::uint64_t> bytes_{0};
  std::uint64_t hash_ = 0;
  std::thread thread_;
};

// Writes `bytes` to `fd` on its own thread, then closes it (EOF for the reader).
class Writer {
 public:
  // `bytes` must outlive the writer.
  Writer(UniqueFd fd, std::span<const std::byte> bytes) : fd_(std::move(fd)), bytes_(bytes) {
    thread_ = std::thread([this] {
      // A pipe reader that stops early must not kill the test: SIGPIPE stays pending, unseen, in
      // this thread only.
      sigset_t pipe_signal;
      sigemptyset(&pipe_signal);
      sigaddset(&pipe_signal, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
      std::size_t off = 0;
      while (off < bytes_.size()) {
        ssize_t w = ::send(fd_.get(), bytes_.data() + off, bytes_.size() - off, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
          w = ::write(fd_.get(), bytes_.data() + off, bytes_.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
          pollfd p{fd_.get(), POLLOUT, 0};
          ::poll(&p, 1, 1000);
          continue;
        }
        if (w <= 0) break;
        off += static_cast<std::size_t>(w);
      }
      fd_.reset();
    });
  }
  ~Writer() { thread_.join(); }

 private:
  UniqueFd fd_;
  std::span<const std::byte> bytes_;
  std::thread thread_;
};

// A 256 MiB pattern file shared by the large tests of this program (built once, on first use).
inline const TempFile& big_file() {
  static const TempFile f = TempFile::with_pattern(256u << 20, 7);
  return f;
}

inline bool is_reset_error(int code) {
  return code == EPIPE || code == ECONNRESET;
}

}  // namespace zcnet::test

namespace zcnet::test {

struct Delivery {
  Driven drive;
  Receiver::Result rx;
  Stats stats;
};

// Moves `range` of `f` to a fresh connected socket with strategy `kind`; the peer hashes
// everything it receives until the sender closes.
inline Delivery file_to_socket(StrategyKind kind, const TempFile& f, FileRange range,
                               bool nonblocking = false, std::uint64_t budget = kNoBudget,
                               bool unix_socket = false) {
  Harness h;
  auto [c, s] = unix_socket ? unix_pair() : tcp_pair();
  if (nonblocking) set_nonblocking(c.get());
  Receiver rx(std::move(s));
  range.fd = f.fd();
  Delivery d;
  if (auto strategy = h.make(kind, range, Socket{c.get()})) d.drive = drive(*strategy, budget);
  c.reset();
  d.rx = rx.wait();
  d.stats = h.stats;
  return d;
}

// The expected byte count of `range` over a file of `size` bytes.
inline std::uint64_t range_bytes(std::uint64_t size, const FileRange& range) {
  const std::uint64_t avail = range.offset < size ? size - range.offset : 0;
  return range.length ? std::min(*range.length, avail) : avail;
}

// Sizes every strategy is checked at: empty, one byte, around a page, odd, and large.
inline std::vector<std::size_t> sizes_to_check() {
  return {0, 1, 4095, 4096, 65537, 16u << 20};
}

}  // namespace zcnet::test

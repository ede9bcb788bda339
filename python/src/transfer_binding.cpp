// zcnet._zcnet: transfers. The blocking calls release the GIL for every syscall and poll(), and
// take it back only between steps to let Ctrl-C (PyErr_CheckSignals) through. The asyncio layer
// drives a StepTransfer one nonblocking step at a time from its reader/writer callbacks.
#include <fcntl.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "errors.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace nb = nanobind;

namespace zcnet::py {

namespace {

// One Engine per thread (transfer.hpp: an Engine is not thread-safe as a whole). Made on first
// use: probing capabilities costs a few syscalls, once per thread.
Engine& thread_engine() {
  thread_local std::unique_ptr<Engine> engine;
  if (!engine) engine = std::make_unique<Engine>();
  return *engine;
}

StrategyKind strategy_from(const std::string& name) {
  auto kind = parse_strategy(name);
  if (!kind) throw nb::value_error(("unknown strategy '" + name + "'").c_str());
  return *kind;
}

nb::dict stats_dict(const Stats& s) {
  nb::dict d;
  d["bytes"] = s.bytes;
  d["syscalls"] = s.syscalls;
  d["bytes_copied_user"] = s.bytes_copied_user;
  d["zc_completions"] = s.zc_completions;
  d["zc_copied"] = s.zc_copied;
  d["waits"] = s.waits;
  d["fallbacks"] = s.fallbacks;
  d["elapsed_s"] = std::chrono::duration<double>(s.elapsed).count();
  d["waited_s"] = std::chrono::duration<double>(s.waited).count();
  return d;
}

// Steps between signal checks on a blocking socket: a step may block in the kernel for this many
// bytes, so Ctrl-C is seen at least every 64 MiB (and every 100 ms while waiting in poll()).
constexpr std::uint64_t kBlockingBudget = 64ull << 20;
constexpr int kSignalCheckMs = 100;

// Called with the GIL released: takes it back for one signal check. Throws nb::python_error
// (KeyboardInterrupt, ...) if a handler raised.
void check_signals() {
  nb::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw nb::python_error();
}

using Deadline = std::optional<std::chrono::steady_clock::time_point>;
Deadline idle_deadline(std::optional<double> timeout_s) {
  if (!timeout_s) return std::nullopt;
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(*timeout_s));
}

// Waits until one of `fds` is ready, checking signals every 100 ms; ETIMEDOUT after `deadline`.
void wait_ready(pollfd* fds, nfds_t n, const Deadline& deadline, const char* op) {
  for (;;) {
    int r = ::poll(fds, n, kSignalCheckMs);
    if (r > 0) return;
    if (r < 0 && errno != EINTR) raise(last_error("poll"));
    check_signals();
    if (deadline && std::chrono::steady_clock::now() >= *deadline)
      raise(Error(ETIMEDOUT, op, "no progress within the timeout"));
  }
}

// Bounds how long one syscall may block on a blocking socket, for one call, and restores the old
// bound after: SO_SNDTIMEO for the direction this call sends in, SO_RCVTIMEO for the one it
// receives in. A blocking step then comes back with EAGAIN within kSignalCheckMs, so Ctrl-C (the
// engine retries EINTR) and the idle timeout reach it, while the socket stays blocking: another
// thread reading a socket this call only sends on (or the reverse) sees no change.
// A nonblocking socket is left alone (its steps never block).
class SyscallTimeoutScope {
 public:
  SyscallTimeoutScope(int fd, bool sending, bool receiving) : fd_(fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) raise(last_error("fcntl", describe_fd(fd)));
    if (flags & O_NONBLOCK) return;
    if (sending) bound(SO_SNDTIMEO, send_);
    if (receiving) bound(SO_RCVTIMEO, recv_);
  }
  ~SyscallTimeoutScope() {
    if (send_) ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &*send_, sizeof(timeval));
    if (recv_) ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &*recv_, sizeof(timeval));
  }
  SyscallTimeoutScope(const SyscallTimeoutScope&) = delete;
  SyscallTimeoutScope& operator=(const SyscallTimeoutScope&) = delete;

 private:
  // Lowers the option to kSignalCheckMs unless it is already set at or below that.
  void bound(int option, std::optional<timeval>& saved) {
    timeval old{};
    socklen_t len = sizeof old;
    if (::getsockopt(fd_, SOL_SOCKET, option, &old, &len) != 0)
      raise(last_error("getsockopt", describe_fd(fd_)));
    const long old_ms = old.tv_sec * 1000L + old.tv_usec / 1000;
    if (old_ms > 0 && old_ms <= kSignalCheckMs) return;
    const timeval bounded{0, kSignalCheckMs * 1000};
    if (::setsockopt(fd_, SOL_SOCKET, option, &bounded, sizeof bounded) != 0)
      raise(last_error("setsockopt", describe_fd(fd_)));
    saved = old;
  }

  int fd_;
  std::optional<timeval> send_, recv_;
};

pollfd to_pollfd(const Wait& w) {
  return pollfd{w.fd, static_cast<short>(w.dir == Direction::Read ? POLLIN : POLLOUT), 0};
}

// Drives one transfer to its end on this thread. Call with the GIL released.
Stats run_to_end(Transfer& t, std::optional<double> timeout_s, const char* op) {
  auto deadline = idle_deadline(timeout_s);
  for (;;) {
    Outcome o = t.step(kBlockingBudget);
    if (o.error) raise(*o.error);
    if (o.done) return t.stats();
    if (o.bytes > 0) deadline = idle_deadline(timeout_s);
    if (o.wait) {
      pollfd p = to_pollfd(*o.wait);
      const auto began = std::chrono::steady_clock::now();
      wait_ready(&p, 1, deadline, op);
      t.add_wait_time(std::chrono::steady_clock::now() - began);
    } else {
      check_signals();
    }
  }
}

nb::dict run_transfer(Source src, Sink dst, TransferOptions opts, std::optional<double> timeout_s,
                      const char* op, int sock_fd) {
  Stats stats;
  std::string strategy;
  {
    nb::gil_scoped_release nogil;
    Transfer t(thread_engine(), src, dst, opts);
    const bool sending = std::holds_alternative<Socket>(dst);
    SyscallTimeoutScope bounded(sock_fd, sending, !sending);
    stats = run_to_end(t, timeout_s, op);
    strategy = std::string(to_string(t.choice().strategy));
  }
  nb::dict d = stats_dict(stats);
  d["strategy"] = strategy;
  return d;
}

nb::dict sendfile_fd(int sock_fd, int file_fd, std::uint64_t offset,
                     std::optional<std::uint64_t> count, const std::string& strategy,
                     std::optional<double> timeout_s) {
  TransferOptions opts;
  opts.strategy = strategy_from(strategy);
  return run_transfer(FileRange{file_fd, offset, count}, Socket{sock_fd}, opts, timeout_s,
                      "sendfile", sock_fd);
}

nb::dict recv_into_file_fd(int sock_fd, int file_fd, std::uint64_t offset,
                           std::optional<std::uint64_t> count, const std::string& strategy,
                           std::optional<double> timeout_s) {
  TransferOptions opts;
  opts.strategy = strategy_from(strategy);
  opts.limit = count;
  return run_transfer(Socket{sock_fd}, FileRange{file_fd, offset, {}}, opts, timeout_s,
                      "recv_into_file", sock_fd);
}

// Both directions between two sockets until each has seen EOF; each finished direction is
// half-closed (shutdown SHUT_WR on its sink) so the other side sees the EOF too.
std::tuple<std::uint64_t, std::uint64_t> relay_fds(int a_fd, int b_fd, const std::string& strategy,
                                                   std::optional<double> timeout_s) {
  TransferOptions opts;
  opts.strategy = strategy_from(strategy);
  nb::gil_scoped_release nogil;
  SyscallTimeoutScope a_bounded(a_fd, true, true), b_bounded(b_fd, true, true);
  Engine& engine = thread_engine();
  Transfer dirs[2] = {Transfer(engine, Socket{a_fd}, Socket{b_fd}, opts),
                      Transfer(engine, Socket{b_fd}, Socket{a_fd}, opts)};
  const int sinks[2] = {b_fd, a_fd};
  bool finished[2] = {false, false};
  auto deadline = idle_deadline(timeout_s);
  while (!finished[0] || !finished[1]) {
    pollfd waits[2];
    nfds_t n = 0;
    bool progressed = false;
    for (int i = 0; i < 2; ++i) {
      if (finished[i]) continue;
      Outcome o = dirs[i].step(kBlockingBudget);
      if (o.error) raise(*o.error);
      if (o.bytes > 0) progressed = true;
      if (o.done) {
        finished[i] = true;
        ::shutdown(sinks[i], SHUT_WR);  // ENOTCONN if the peer is gone: nothing left to tell it
        progressed = true;
      } else if (o.wait) {
        waits[n++] = to_pollfd(*o.wait);
      }
    }
    if (progressed) deadline = idle_deadline(timeout_s);
    if (n > 0 && !progressed) wait_ready(waits, n, deadline, "relay");
    if (progressed) check_signals();
  }
  return {dirs[0].stats().bytes, dirs[1].stats().bytes};
}

// A transfer stepped by the asyncio layer. Every fd it was given stays owned by the caller, who
// keeps them open until close() (or until this object dies).
class StepTransfer {
 public:
  StepTransfer(Source src, Sink dst, TransferOptions opts)
      : t_(std::make_unique<Transfer>(thread_engine(), src, dst, opts)) {}

  // (bytes this step, done, wait fd or -1, wait for writability). Raises OSError on failure.
  std::tuple<std::uint64_t, bool, int, bool> step(std::uint64_t budget) {
    if (!t_) throw nb::value_error("transfer is closed");
    Outcome o;
    {
      nb::gil_scoped_release nogil;
      o = t_->step(budget);
    }
    if (o.error) raise(*o.error);
    if (o.done || !o.wait) return {o.bytes, o.done, -1, false};
    return {o.bytes, false, o.wait->fd, o.wait->dir == Direction::Write};
  }
  // Gives its pipe and buffers back now (a pipe still holding bytes is closed, not pooled).
  void close() { t_.reset(); }
  bool closed() const { return !t_; }
  nb::dict stats() const {
    if (!t_) throw nb::value_error("transfer is closed");
    return stats_dict(t_->stats());
  }
  std::string strategy() const {
    if (!t_) throw nb::value_error("transfer is closed");
    return std::string(to_string(t_->choice().strategy));
  }
  std::string reason() const {
    if (!t_) throw nb::value_error("transfer is closed");
    return t_->choice().describe();
  }

 private:
  std::unique_ptr<Transfer> t_;
};

}  // namespace

void bind_transfers(nb::module_& m) {
  m.def("sendfile_fd", &sendfile_fd, nb::arg("sock_fd"), nb::arg("file_fd"), nb::arg("offset"),
        nb::arg("count").none(), nb::arg("strategy"), nb::arg("timeout").none(),
        "File range to a socket until every byte is sent; GIL released. Returns stats.");
  m.def("recv_into_file_fd", &recv_into_file_fd, nb::arg("sock_fd"), nb::arg("file_fd"),
        nb::arg("offset"), nb::arg("count").none(), nb::arg("strategy"), nb::arg("timeout").none(),
        "Socket bytes into a file at offset (count bytes, or until EOF); GIL released.");
  m.def("relay_fds", &relay_fds, nb::arg("a_fd"), nb::arg("b_fd"), nb::arg("strategy"),
        nb::arg("timeout").none(),
        "Both directions between two sockets until EOF; returns (a->b bytes, b->a bytes).");

  nb::class_<StepTransfer>(m, "StepTransfer",
                           "A transfer driven one nonblocking step at a time (zcnet.aio).")
      .def_static(
          "file_to_socket",
          [](int file_fd, std::uint64_t offset, std::optional<std::uint64_t> count, int sock_fd,
             const std::string& strategy) {
            TransferOptions opts;
            opts.strategy = strategy_from(strategy);
            return std::make_unique<StepTransfer>(FileRange{file_fd, offset, count},
                                                  Socket{sock_fd}, opts);
          },
          nb::arg("file_fd"), nb::arg("offset"), nb::arg("count").none(), nb::arg("sock_fd"),
          nb::arg("strategy"), "File range to a nonblocking socket.")
      .def_static(
          "socket_to_socket",
          [](int src_fd, int dst_fd, const std::string& strategy) {
            TransferOptions opts;
            opts.strategy = strategy_from(strategy);
            return std::make_unique<StepTransfer>(Socket{src_fd}, Socket{dst_fd}, opts);
          },
          nb::arg("src_fd"), nb::arg("dst_fd"), nb::arg("strategy"),
          "One direction between two nonblocking sockets, until EOF.")
      .def_static(
          "socket_to_file",
          [](int sock_fd, int file_fd, std::uint64_t offset, std::optional<std::uint64_t> count,
             const std::string& strategy) {
            TransferOptions opts;
            opts.strategy = strategy_from(strategy);
            opts.limit = count;
            return std::make_unique<StepTransfer>(Socket{sock_fd}, FileRange{file_fd, offset, {}},
                                                  opts);
          },
          nb::arg("sock_fd"), nb::arg("file_fd"), nb::arg("offset"), nb::arg("count").none(),
          nb::arg("strategy"), "A nonblocking socket into a file at offset (count bytes or EOF).")
      .def("step", &StepTransfer::step, nb::arg("budget"),
           "One nonblocking step: (bytes, done, wait_fd, wait_for_write).")
      .def("close", &StepTransfer::close, "Release the pipe and buffers now.")
      .def_prop_ro("closed", &StepTransfer::closed, "True after close().")
      .def_prop_ro("strategy", &StepTransfer::strategy, "The strategy running now.")
      .def_prop_ro("reason", &StepTransfer::reason, "Why the selector chose it.")
      .def("stats", &StepTransfer::stats, "bytes, syscalls, bytes_copied_user, waits, ...");
}

}  // namespace zcnet::py

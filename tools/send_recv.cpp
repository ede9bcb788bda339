// `zcnet send` and `zcnet recv`: a zero-copy netcat.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "commands.hpp"
#include "zcnet/transfer.hpp"

namespace zcnet::cli {

namespace {

[[noreturn]] void fail(const Error& e) { throw std::runtime_error(e.message()); }

template <class T>
T check(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}

struct Report {
  std::string role;
  Stats stats;
  double seconds = 0;
  CpuTimes cpu;
  std::string strategy, reason;
};

void print_report(const Report& r, bool json) {
  const double gib = static_cast<double>(r.stats.bytes) / (1u << 30);
  const double rate = r.seconds > 0 ? static_cast<double>(r.stats.bytes) / r.seconds : 0;
  if (json) {
    nlohmann::json j{{"role", r.role},
                     {"bytes", r.stats.bytes},
                     {"seconds", r.seconds},
                     {"bytes_per_second", rate},
                     {"strategy", r.strategy},
                     {"reason", r.reason},
                     {"syscalls", r.stats.syscalls},
                     {"bytes_copied_user", r.stats.bytes_copied_user},
                     {"zc_completions", r.stats.zc_completions},
                     {"zc_copied", r.stats.zc_copied},
                     {"fallbacks", r.stats.fallbacks},
                     {"cpu_user_seconds", r.cpu.user},
                     {"cpu_system_seconds", r.cpu.sys},
                     {"cpu_seconds_per_gib", gib > 0 ? (r.cpu.user + r.cpu.sys) / gib : 0.0}};
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("{}: {} bytes in {:.3f} s = {:.2f} GB/s via {} ({})\n", r.role, r.stats.bytes,
             r.seconds, rate / 1e9, r.strategy, r.reason);
  fmt::print("  syscalls {}, copied in user space {} B, zero-copy completions {} ({} copied "
             "anyway), CPU user {:.3f} s sys {:.3f} s\n",
             r.stats.syscalls, r.stats.bytes_copied_user, r.stats.zc_completions,
             r.stats.zc_copied, r.cpu.user, r.cpu.sys);
}

CpuTimes cpu_since(const CpuTimes& start) {
  CpuTimes now = cpu_now();
  return {now.user - start.user, now.sys - start.sys};
}

struct SendArgs {
  std::string file, to, strategy = "auto";
  std::uint64_t offset = 0;
  std::int64_t length = -1;
  std::size_t chunk = 256 * 1024;
  bool json = false;
};

void run_send(const SendArgs& a) {
  auto kind = parse_strategy(a.strategy);
  if (!kind || *kind == StrategyKind::Tee)  // tee needs a mirror: the proxy's business
    throw std::runtime_error(fmt::format("unknown --strategy '{}'", a.strategy));
  UniqueFd file(::open(a.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) fail(last_error("open", a.file));
  UniqueFd sock = check(connect_to(a.to));
  Engine engine;
  TransferOptions opts;
  opts.strategy = *kind;
  opts.allow_fallback = *kind == StrategyKind::Auto;
  opts.chunk_bytes = a.chunk;
  std::optional<std::uint64_t> len;
  if (a.length >= 0) len = static_cast<std::uint64_t>(a.length);
  CpuTimes cpu0 = cpu_now();
  auto t0 = std::chrono::steady_clock::now();
  Transfer t(engine, FileRange{file.get(), a.offset, len}, Socket{sock.get()}, opts);
  Stats stats = check(run_blocking(t));
  ::shutdown(sock.get(), SHUT_WR);
  // Wait for the receiver to close: the bytes are then delivered, not just queued.
  char byte;
  while (::read(sock.get(), &byte, 1) > 0) {
  }
  Report r{"send", stats,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
           cpu_since(cpu0), std::string(to_string(t.choice().strategy)), t.choice().reason};
  print_report(r, a.json);
}

struct RecvArgs {
  std::string listen, out;
  int count = 1;
  bool json = false;
};

// Without --out the bytes are read and dropped, as any real receiver pays for them.
Stats discard(int sock, BufferPool& pool) {
  auto buf = check(pool.acquire(1 << 20));
  Stats s;
  for (;;) {
    ssize_t r = ::read(sock, buf.data(), buf.capacity());
    ++s.syscalls;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(last_error("read", describe_fd(sock)));
    if (r == 0) break;
    s.bytes += static_cast<std::uint64_t>(r);
    s.bytes_copied_user += static_cast<std::uint64_t>(r);
  }
  return s;
}

void run_recv(const RecvArgs& a) {
  UniqueFd listener = check(listen_on(a.listen));
  fmt::print(stderr, "zcnet recv: listening on port {}\n", local_port(listener.get()));
  Engine engine;
  for (int i = 0; a.count <= 0 || i < a.count; ++i) {
    UniqueFd sock(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!sock) fail(last_error("accept", a.listen));
    CpuTimes cpu0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    Report r{"recv", {}, 0, {}, "read-write", "no --out: read and discard"};
    if (a.out.empty()) {
      r.stats = discard(sock.get(), engine.buffers());
    } else {
      UniqueFd out(::open(a.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!out) fail(last_error("open", a.out));
      Transfer t(engine, Socket{sock.get()}, FileRange{out.get(), 0, {}});
      r.stats = check(run_blocking(t));
      r.strategy = to_string(t.choice().strategy);
      r.reason = t.choice().reason;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cpu = cpu_since(cpu0);
    print_report(r, a.json);
  }
}

}  // namespace

void add_send(CLI::App& app) {
  auto a = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("send", "send FILE to a TCP peer with the chosen strategy");
  cmd->add_option("FILE", a->file, "file to send")->required()->check(CLI::ExistingFile);
  cmd->add_option("--to", a->to, "HOST:PORT of the receiver")->required();
  cmd->add_option("--strategy", a->strategy,
                  "read-write, mmap, sendfile, splice, msg-zerocopy, uring-send, uring-send-zc, "
                  "uring-splice or auto (default: the selector chooses)");
  cmd->add_option("--offset", a->offset, "first byte of the file to send");
  cmd->add_option("--length", a->length, "bytes to send (default: to the end)");
  cmd->add_option("--chunk", a->chunk, "bytes per chunk for buffer-based strategies");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a] { run_send(*a); });
}

void add_recv(CLI::App& app) {
  auto a = std::make_shared<RecvArgs>();
  auto* cmd = app.add_subcommand("recv", "accept TCP connections and receive until EOF");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on")->required();
  cmd->add_option("--out", a->out, "write what arrives here (splice where possible)");
  cmd->add_option("--count", a->count, "connections to serve, one after another (0: forever)");
  cmd->add_flag("--json", a->json, "print one JSON object per connection");
  cmd->callback([a] { run_recv(*a); });
}

}  // namespace zcnet::cli

// `zcnet send`: a file to a TCP peer over N parallel connections (like iperf3 -P), all driven by
// one event loop. The file is cut into N contiguous ranges; each connection sends the hello of
// wire.hpp, then its range through a Transfer (forced strategy, or the selector's choice).
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "commands.hpp"
#include "report.hpp"
#include "wire.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/transfer/transfer.hpp"

namespace zcnet::cli {

namespace {

struct SendArgs {
  std::string file, to, strategy = "auto", backend;
  std::uint64_t offset = 0;
  std::int64_t length = -1;
  std::size_t chunk = 256 * 1024;
  unsigned connections = 1;
  bool raw = false;
  bool json = false;
};

// One connection's share of the file and what became of it.
struct Piece {
  std::uint64_t file_offset = 0;  // in the file
  std::uint64_t wire_offset = 0;  // in the bytes sent as a whole (the hello's offset)
  std::uint64_t length = 0;
  Stats stats;  // payload bytes only
  std::optional<Choice> choice;
  std::optional<Error> error;
  double seconds = 0;
};

// N contiguous ranges covering [offset, offset + total); the first total % n get one byte more.
std::vector<Piece> split(std::uint64_t offset, std::uint64_t total, unsigned n) {
  std::vector<Piece> pieces(n);
  const std::uint64_t base = total / n, extra = total % n;
  std::uint64_t at = 0;
  for (unsigned i = 0; i < n; ++i) {
    pieces[i].wire_offset = at;
    pieces[i].file_offset = offset + at;
    pieces[i].length = base + (i < extra ? 1 : 0);
    at += pieces[i].length;
  }
  return pieces;
}

struct SendContext {
  Loop& loop;
  Engine& engine;
  const SendArgs& args;
  StrategyKind strategy;
  int file_fd;
  const std::vector<Address>& peers;
};

Task<Result<void>> send_piece(SendContext& c, int fd, Piece& p) {
  // The hello goes out as the transfer's header, corked with the first payload bytes (MSG_MORE).
  const wire::HelloBytes hello = wire::encode({wire::kVersion, p.wire_offset, p.length});
  TransferOptions opts;
  opts.strategy = c.strategy;
  opts.allow_fallback = c.strategy == StrategyKind::Auto;
  opts.chunk_bytes = c.args.chunk;
  if (!c.args.raw) opts.header = hello;
  Transfer t(c.engine, FileRange{c.file_fd, p.file_offset, p.length}, Socket{fd}, opts);
  p.choice = t.choice();
  auto r = co_await transfer(c.loop, t);
  p.choice = t.choice();  // a fallback rewrites it
  if (!r) co_return std::move(r).error();
  p.stats = *r;
  p.stats.bytes -= opts.header.size();
  if (p.stats.bytes != p.length)
    co_return Error(
        ENODATA, "send",
        fmt::format("{}: sent {} of {} B (file truncated?)", c.args.file, p.stats.bytes, p.length));
  // Half-close, then wait for the receiver to close: the bytes are then delivered, not queued.
  ::shutdown(fd, SHUT_WR);
  std::byte sink[64];
  for (;;) {
    auto n = co_await c.loop.read(fd, sink);
    if (!n || *n == 0) break;  // a reset after every byte was sent changes nothing for us
  }
  co_return Result<void>{};
}

Task<void> run_connection(SendContext& c, Piece& p) {
  const auto t0 = Clock::now();
  auto fd = co_await dial_any(c.loop, c.peers, c.args.to);
  if (!fd) {
    p.error = std::move(fd).error();
    co_return;
  }
  auto r = co_await send_piece(c, fd->get(), p);
  if (!r) p.error = std::move(r).error();
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  c.loop.close(std::move(*fd));
}

Task<void> run_all(SendContext& c, std::vector<Piece>& pieces) {
  TaskGroup group(c.loop);
  for (Piece& p : pieces) group.spawn(run_connection(c, p));
  co_await group.join();
}

// The strategy every connection ran, or the distinct ones joined by commas.
std::string strategies_of(const std::vector<Piece>& pieces) {
  std::set<std::string> names;
  std::string first;
  for (const Piece& p : pieces) {
    if (!p.choice) continue;
    std::string n(to_string(p.choice->strategy));
    if (first.empty()) first = n;
    names.insert(n);
  }
  if (names.size() <= 1) return first;
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ",") + n;
  return all;
}

void run_send(const SendArgs& a) {
  const StrategyKind kind = strategy_named(a.strategy);
  if (a.raw && a.connections != 1)
    throw std::runtime_error("--raw sends no hello, so it needs --connections 1");
  auto [file, size] = check(open_input(a.file));
  std::uint64_t total = a.offset < size ? size - a.offset : 0;
  if (a.length >= 0) total = std::min(total, static_cast<std::uint64_t>(a.length));
  std::vector<Piece> pieces = split(a.offset, total, a.connections);
  const std::vector<Address> peers = check(resolve(a.to));

  std::unique_ptr<Loop> loop = create_loop(a.backend);
  Engine engine;
  SendContext ctx{*loop, engine, a, kind, file.get(), peers};
  const Usage u0 = Usage::now();
  const auto t0 = Clock::now();
  loop->block_on(run_all(ctx, pieces));
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  Report r{"send", {}, seconds, Usage::now().since(u0), strategies_of(pieces), "", {}};
  nlohmann::json per = nlohmann::json::array();
  const Error* first_error = nullptr;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    r.stats += p.stats;
    if (r.reason.empty() && p.choice) r.reason = p.choice->describe();
    nlohmann::json j{{"offset", p.wire_offset},
                     {"length", p.length},
                     {"bytes", p.stats.bytes},
                     {"seconds", p.seconds}};
    if (p.choice) j["strategy"] = to_string(p.choice->strategy);
    if (p.error) {
      j["error"] = p.error->message();
      if (pieces.size() > 1)  // a lone connection's error is main()'s one line
        fmt::print(stderr, "zcnet send: connection {} of {}: {}\n", i + 1, pieces.size(),
                   p.error->message());
      if (!first_error) first_error = &*p.error;
    }
    per.push_back(std::move(j));
  }
  r.stats.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0);
  if (first_error) fail(*first_error);
  r.extra = {{"connections", pieces.size()},
             {"backend", to_string(loop->backend())},
             {"hello", !a.raw},
             {"per_connection", std::move(per)}};
  print_report(r, a.json);
}

}  // namespace

void add_send(CLI::App& app) {
  auto a = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("send", "send FILE to a TCP peer with the chosen strategy");
  cmd->add_option("FILE", a->file, "file to send")->required()->check(CLI::ExistingFile);
  cmd->add_option("--to", a->to, "HOST:PORT of the receiver")->required();
  add_strategy_option(cmd, a->strategy, "the file");
  cmd->add_option("--offset", a->offset, "first byte of the file to send");
  cmd->add_option("--length", a->length, "bytes to send (default: to the end)");
  cmd->add_option("--chunk", a->chunk, "bytes per chunk for buffer-based strategies");
  cmd->add_option("--connections,-P", a->connections,
                  "parallel connections, each carrying one contiguous range of the file")
      ->check(CLI::Range(1u, 4096u));
  cmd->add_flag("--raw", a->raw,
                "send the bare bytes, no hello (for receivers other than zcnet recv)");
  add_backend_option(cmd, a->backend);
  cmd->add_flag("--json", a->json, "print one JSON object for the whole run");
  cmd->callback([a] { run_send(*a); });
}

}  // namespace zcnet::cli

#include "serve_config.hpp"

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "commands.hpp"
#include "sizes.hpp"

namespace zcnet::cli {

namespace {

using nlohmann::json;

// One option: its name (the long flag without dashes, and the config key), how to take it from
// JSON, how to copy it from the command line's args, and its value as JSON.
struct Field {
  std::string name;
  std::function<void(ServeArgs&, const json&)> from_json;
  std::function<void(ServeArgs&, const ServeArgs&)> from_flags;
  std::function<json(const ServeArgs&)> to_json;
};

template <class T>
bool has_type(const json& v) {
  if constexpr (std::is_same_v<T, bool>)
    return v.is_boolean();
  else if constexpr (std::is_same_v<T, std::string>)
    return v.is_string();
  else if constexpr (std::is_same_v<T, std::size_t>)
    return v.is_number_unsigned();
  else
    return v.is_number();
}

template <class T>
std::string_view type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_same_v<T, std::size_t>)
    return "a whole number >= 0";
  else
    return "a number";
}

template <class T>
Field field(std::string name, T ServeArgs::*member) {
  return Field{name,
               [member, name](ServeArgs& a, const json& v) {
                 if (!has_type<T>(v))
                   throw std::runtime_error(fmt::format("\"{}\" must be {}", name, type_name<T>()));
                 a.*member = v.get<T>();
               },
               [member](ServeArgs& a, const ServeArgs& flags) { a.*member = flags.*member; },
               [member](const ServeArgs& a) { return json(a.*member); }};
}

const std::vector<Field>& fields() {
  static const std::vector<Field> all{
      field("root", &ServeArgs::root),
      field("listen", &ServeArgs::listen),
      field("workers", &ServeArgs::workers),
      field("processes", &ServeArgs::processes),
      field("backend", &ServeArgs::backend),
      field("strategy", &ServeArgs::strategy),
      field("max-connections", &ServeArgs::max_connections),
      field("header-timeout", &ServeArgs::header_timeout),
      field("keepalive-timeout", &ServeArgs::keepalive_timeout),
      field("send-timeout", &ServeArgs::send_timeout),
      field("grace", &ServeArgs::grace),
      field("access-log", &ServeArgs::access_log),
      field("metrics", &ServeArgs::metrics),
      field("admin", &ServeArgs::admin),
      field("trace-file", &ServeArgs::trace_file),
      field("trace-sample", &ServeArgs::trace_sample),
      field("allow-dotfiles", &ServeArgs::allow_dotfiles),
      field("autoindex", &ServeArgs::autoindex),
      field("allow-symlinks-outside", &ServeArgs::allow_symlinks_outside),
      field("sendfile-max-chunk", &ServeArgs::sendfile_max_chunk),
      field("output-buffer", &ServeArgs::output_buffer),
      field("local-sendfile-max", &ServeArgs::local_sendfile_max),
      field("notsent-lowat", &ServeArgs::notsent_lowat),
      field("sendfile-notsent-lowat", &ServeArgs::sendfile_notsent_lowat),
      field("open-file-cache", &ServeArgs::open_file_cache),
      field("open-file-cache-valid", &ServeArgs::open_file_cache_valid),
  };
  return all;
}

}  // namespace

nlohmann::json serve_args_json(const ServeArgs& a) {
  json j = json::object();
  for (const Field& f : fields()) j[f.name] = f.to_json(a);
  // Written as a config file says it, so the object can be saved and loaded: one worker per core
  // is the key left out (a 0 in the file is refused).
  if (a.workers == 0) j.erase("workers");
  return j;
}

namespace {

void read_config(const std::string& path, ServeArgs& a) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("--config {}: cannot open it", path));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("--config {}: not JSON: {}", path, e.what()));
  }
  if (!doc.is_object())
    throw std::runtime_error(fmt::format("--config {}: want a JSON object", path));
  for (const auto& [key, value] : doc.items()) {
    std::string name = key;
    std::replace(name.begin(), name.end(), '_', '-');  // "max_connections" is fine too
    auto f = std::find_if(fields().begin(), fields().end(),
                          [&](const Field& x) { return x.name == name; });
    if (f == fields().end())
      throw std::runtime_error(fmt::format("--config {}: unknown key \"{}\"", path, key));
    try {
      f->from_json(a, value);
      if (name == "workers" && (a.workers < 1 || a.workers > 1024))
        throw std::runtime_error(fmt::format(
            "\"workers\" must be 1 to 1024, not {} (leave it out for one per core)", a.workers));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("--config {}: {}", path, e.what()));
    }
  }
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

}  // namespace

void add_serve_options(CLI::App* cmd, ServeCommandLine& line) {
  ServeArgs& a = line.args;
  cmd->add_option("--config", a.config,
                  "JSON file with any of these options (keys: their long names); flags given here "
                  "override it; re-read on SIGHUP");
  cmd->add_option("--root", a.root, "directory to serve");
  cmd->add_option("--listen", a.listen, "ADDR:PORT to listen on (port 0: any)");
  cmd->add_option("--workers", a.workers, "loop threads per process (default: one per core)")
      ->check(count_check(1, 1024, "worker threads"));
  cmd->add_option("--processes", a.processes,
                  "worker processes, as nginx's worker_processes: each has its own open-file limit "
                  "and --workers loop threads; a master process restarts one that dies")
      ->check(count_check(1, 256, "worker processes"));
  add_backend_option(cmd, a.backend);
  add_strategy_option(cmd, a.strategy, "file bodies");
  cmd->add_option("--max-connections", a.max_connections,
                  "open connections over all workers of a process; beyond it: 503 and close")
      ->check(count_check(1, 100'000'000, "connections"));
  cmd->add_option("--header-timeout", a.header_timeout,
                  "seconds a request's header may take to arrive (slowloris)")
      ->check(seconds_check(false));
  cmd->add_option("--keepalive-timeout", a.keepalive_timeout,
                  "seconds an idle keep-alive connection is kept")
      ->check(seconds_check(false));
  cmd->add_option("--send-timeout", a.send_timeout,
                  "seconds a response may go without the client accepting a byte")
      ->check(seconds_check(false));
  cmd->add_option("--grace", a.grace, "seconds responses in flight may run on after SIGINT/SIGTERM")
      ->check(seconds_check(true));
  cmd->add_option("--access-log", a.access_log,
                  "append one line per request to this file (reopened on SIGHUP)");
  cmd->add_option("--metrics", a.metrics,
                  "ADDR:PORT serving Prometheus metrics at /metrics (port 0: any)");
  cmd->add_option("--admin", a.admin,
                  "[ADDR:]PORT of the admin endpoint (a port alone: 127.0.0.1): GET /config, GET "
                  "and PUT /trace-sample and /syscall-timing; every change is logged");
  cmd->add_option(
      "--trace-file", a.trace_file,
      "append a span per request (and one per body sent) to this file as OTLP/HTTP "
      "JSON lines ('-': standard output); a traceparent header makes them its children");
  cmd->add_option("--trace-sample", a.trace_sample,
                  "which requests to record: always, never, ratio:P (by trace id) or rate:N (at "
                  "most N new traces per second), then optional rules: errors, slower:T (250ms, "
                  "2s), path:PREFIX=SAMPLER; e.g. ratio:0.01,errors,slower:500ms. A request with "
                  "a traceparent follows its sampled flag")
      ->capture_default_str();
  cmd->add_flag("--allow-dotfiles", a.allow_dotfiles, "serve names starting with '.'");
  cmd->add_flag("--autoindex", a.autoindex, "list a directory that has no index.html");
  cmd->add_flag("--allow-symlinks-outside", a.allow_symlinks_outside,
                "follow symlinks that lead outside the root (\"..\" stays refused)");
  cmd->add_option("--sendfile-max-chunk", a.sendfile_max_chunk,
                  "bytes one connection may send per loop turn, like nginx's sendfile_max_chunk")
      ->capture_default_str();
  cmd->add_option("--output-buffer", a.output_buffer,
                  "chunk of the buffer-based strategies (read-write, mmap ...), like nginx's "
                  "output_buffers")
      ->capture_default_str();
  cmd->add_option("--local-sendfile-max", a.local_sendfile_max,
                  "a loopback peer gets bodies up to this size by sendfile, larger by the "
                  "selector's choice (0: the selector decides every size)")
      ->capture_default_str();
  cmd->add_option("--notsent-lowat", a.notsent_lowat,
                  "TCP_NOTSENT_LOWAT of each connection: a socket takes more of a body only while "
                  "fewer bytes than this wait unsent in it (0: the kernel's default, for every "
                  "body)")
      ->capture_default_str();
  cmd->add_option("--sendfile-notsent-lowat", a.sendfile_notsent_lowat,
                  "the same mark while a body goes by sendfile, which moves bodies of up to a few "
                  "MiB faster with a smaller mark (0: --notsent-lowat for every body)")
      ->capture_default_str();
  cmd->add_option("--open-file-cache", a.open_file_cache,
                  "open files kept per worker with their metadata (0: none), like nginx's "
                  "open_file_cache max=")
      ->capture_default_str();
  cmd->add_option("--open-file-cache-valid", a.open_file_cache_valid,
                  "seconds a cached file is trusted before it is checked again (one fstatat)")
      ->check(seconds_check(true))
      ->capture_default_str();
}

void note_given_options(const CLI::App* cmd, ServeCommandLine& line) {
  line.given.clear();
  for (const CLI::Option* o : cmd->get_options())
    if (o->count() > 0 && !o->get_lnames().empty()) line.given.insert(o->get_lnames().front());
}

ServeArgs effective_serve_args(const ServeCommandLine& line) {
  ServeArgs a;
  if (!line.args.config.empty()) read_config(line.args.config, a);
  for (const Field& f : fields())
    if (line.given.count(f.name)) f.from_flags(a, line.args);
  a.config = line.args.config;
  if (a.root.empty()) throw std::runtime_error("--root is required (flag or config key \"root\")");
  if (a.listen.empty())
    throw std::runtime_error("--listen is required (flag or config key \"listen\")");
  for (auto [name, v] : {std::pair{"header-timeout", a.header_timeout},
                         std::pair{"keepalive-timeout", a.keepalive_timeout},
                         std::pair{"send-timeout", a.send_timeout}})
    if (!(v > 0)) throw std::runtime_error(fmt::format("{} must be > 0 seconds", name));
  if (!(a.grace >= 0)) throw std::runtime_error("grace must be >= 0 seconds");
  if (a.processes < 1 || a.processes > 256)
    throw std::runtime_error(fmt::format("processes must be 1 to 256, not {}", a.processes));
  if (a.processes > 1 && !a.metrics.empty())
    throw std::runtime_error(
        "metrics: one endpoint per server, and each worker process counts only its own "
        "connections: --metrics needs --processes 1");
  if (a.processes > 1 && !a.admin.empty())
    throw std::runtime_error(
        "admin: one endpoint per server, and each worker process has its own tracer: --admin "
        "needs --processes 1");
  // The flags' names were checked as they were parsed; the file's go through the same parsers.
  (void)strategy_named(a.strategy);
  (void)backend_option_kind(a.backend);
  if (!(a.open_file_cache_valid >= 0))
    throw std::runtime_error("open-file-cache-valid must be >= 0 seconds");
  for (auto [name, text] : {std::pair{"sendfile-max-chunk", &a.sendfile_max_chunk},
                            std::pair{"output-buffer", &a.output_buffer},
                            std::pair{"local-sendfile-max", &a.local_sendfile_max},
                            std::pair{"notsent-lowat", &a.notsent_lowat},
                            std::pair{"sendfile-notsent-lowat", &a.sendfile_notsent_lowat}}) {
    std::uint64_t v = 0;
    try {
      v = parse_size(*text);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("{}: {}", name, e.what()));
    }
    if (v > (std::uint64_t{1} << 30))
      throw std::runtime_error(fmt::format("{} must be at most 1G, not {}", name, *text));
    const bool zero_allowed = std::string_view(name) == "local-sendfile-max" ||
                              std::string_view(name).ends_with("notsent-lowat");
    if (v == 0 && !zero_allowed)
      throw std::runtime_error(fmt::format("{} must be at least 1 byte", name));
  }
  return a;
}

http::ServerOptions server_options(const ServeArgs& a, int log_fd) {
  http::ServerOptions o;
  o.root = a.root;
  o.strategy = strategy_named(a.strategy);
  o.max_connections = a.max_connections;
  o.header_timeout = seconds(a.header_timeout);
  o.keepalive_timeout = seconds(a.keepalive_timeout);
  o.send_timeout = seconds(a.send_timeout);
  o.shutdown_grace = seconds(a.grace);
  o.allow_dotfiles = a.allow_dotfiles;
  o.autoindex = a.autoindex;
  o.allow_symlinks_outside = a.allow_symlinks_outside;
  o.step_budget = parse_size(a.sendfile_max_chunk);
  o.chunk_bytes = static_cast<std::size_t>(parse_size(a.output_buffer));
  o.server_sendfile_max_bytes = parse_size(a.local_sendfile_max);
  o.notsent_lowat = static_cast<std::uint32_t>(parse_size(a.notsent_lowat));
  o.sendfile_notsent_lowat = static_cast<std::uint32_t>(parse_size(a.sendfile_notsent_lowat));
  o.open_file_cache_entries = a.open_file_cache;
  o.open_file_cache_valid = seconds(a.open_file_cache_valid);
  o.access_log_fd = log_fd;
  return o;
}

}  // namespace zcnet::cli

// `zcnet serve` options: the command-line flags, the JSON config file (--config) whose keys
// mirror the long options ("root", "max-connections", ...), and how the two merge: a flag given
// on the command line overrides the file. Read at start and again on every SIGHUP.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "zcnet/http/server.hpp"

namespace zcnet::cli {

struct ServeArgs {
  std::string config;  // JSON file; the flags below override it
  std::string root;
  std::string listen;
  std::size_t workers = 0;
  std::size_t processes = 1;  // worker processes, each with `workers` loop threads
  std::string backend;
  std::string strategy = "auto";
  std::size_t max_connections = 10000;
  double header_timeout = 10;
  double keepalive_timeout = 75;
  double send_timeout = 60;
  double grace = 10;
  std::string access_log;
  std::string metrics;                  // ADDR:PORT for Prometheus scrapes; empty: none
  std::string admin;                    // [ADDR:]PORT of the admin endpoint; empty: none
  std::string trace_file;               // OTLP-JSON spans, one request per line group; "-": stdout
  std::string trace_sample = "always";  // a sampler, then rules (TracePolicy in trace.hpp)
  bool allow_dotfiles = false;
  bool autoindex = false;
  bool allow_symlinks_outside = false;
  // Tuning, named after the nginx directive each corresponds to (sizes: 4096, 64K, 2M ...).
  std::string sendfile_max_chunk = "2M";       // bytes per connection per loop turn
  std::string output_buffer = "256K";          // buffer strategies' chunk (nginx: output_buffers)
  std::string local_sendfile_max = "2M";       // local peers: sendfile up to this size (0: Profile)
  std::string notsent_lowat = "64K";           // TCP_NOTSENT_LOWAT per connection (0: kernel's)
  std::string sendfile_notsent_lowat = "16K";  // ... while a body goes by sendfile (0: the above)
  std::size_t open_file_cache = 1024;          // entries per worker (0: no cache)
  double open_file_cache_valid = 1;            // seconds an entry is trusted before a fstatat
};

// The flags as given, and which of them were given (their long names without dashes).
struct ServeCommandLine {
  ServeArgs args;
  std::set<std::string> given;
};

// Registers every flag of `zcnet serve` on `cmd`, writing into `line.args`.
void add_serve_options(CLI::App* cmd, ServeCommandLine& line);
// Call after parsing: records which flags the command line gave.
void note_given_options(const CLI::App* cmd, ServeCommandLine& line);

// The options in effect: defaults, then the config file (if any), then the flags given.
// Throws std::runtime_error naming the file and key for a bad file, and for missing root/listen
// or out-of-range values.
ServeArgs effective_serve_args(const ServeCommandLine& line);

// The server's options from them (`log_fd`: the open access log or -1).
http::ServerOptions server_options(const ServeArgs& a, int log_fd);

// Every option in `a` as one JSON object, keyed as in the config file.
nlohmann::json serve_args_json(const ServeArgs& a);

}  // namespace zcnet::cli

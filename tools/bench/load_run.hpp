// The parts of `zcnet load` (load.cpp) that its files share: the options, the state of one run,
// and the mechanisms each file holds: HTTP exchanges (load_http.cpp), source addresses and
// connecting (load_dial.cpp), idle connections (load_idle.cpp), the report (load_report.cpp).
//
// Invariant: one run is one loop on one thread; every field of LoadState is touched by that
// thread only, so nothing here needs a lock.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load.hpp"
#include "report.hpp"
#include "zcnet/loop/cancel.hpp"
#include "zcnet/loop/task_group.hpp"
#include "zcnet/observe/histogram.hpp"

namespace zcnet::cli {

struct LoadArgs {
  std::string connect, backend = kDefaultLoadBackend, size_text, read_size_text = "256K";
  unsigned connections = 1;
  double duration = 0;
  std::uint64_t requests = 0;
  double grace = 5;
  double timeout = 30;
  bool json = false;
  // HTTP mode and connection scale.
  std::string http_path, idle_path, source_text;
  unsigned idle = 0;
  double idle_interval = 10;
  double connect_rate = 0;
  double connect_timeout = 10;
  double hold = 0;
};

// Connection attempts of every kind (active and idle) and how they ended.
struct ConnectCounts {
  std::uint64_t attempted = 0, established = 0, failed = 0;
  std::map<std::string, std::uint64_t> failures;  // errno name -> count
  std::string first_failure;
  Histogram latency;  // ns from socket() to connected
};

// The idle connections: each sends one request per interval, at its own phase.
struct IdleCounts {
  std::uint64_t established = 0, open = 0, held_at_end = 0;
  std::uint64_t sent = 0, answered = 0, unanswered = 0, lost = 0;
  std::map<std::string, std::uint64_t> failures;  // why requests went unanswered
  std::string first_failure;
  Histogram latency;  // ns per answered request
};

// The peak of this process's own cost, sampled while the run holds its connections.
struct ProcessPeak {
  std::uint64_t fds = 0, rss_bytes = 0;
};

// What a request is on the wire: an 8-byte length (load.hpp) or an HTTP/1.1 GET.
struct Request {
  std::string bytes;       // written as is
  std::uint64_t size = 0;  // length protocol: bytes asked for; HTTP: 0 (Content-Length says)
  bool http = false;
};

struct LoadState {
  Loop& loop;
  const LoadArgs& args;
  const std::vector<Address>& peers;
  const std::vector<sockaddr_in>& sources;  // bind() round-robin; empty: the kernel chooses
  Request active_request, idle_request;
  Clock::time_point t0;
  Clock::time_point stop_issuing = Clock::time_point::max();  // no new active request after this
  IoOptions io;                                               // hard deadline for every active wait
  // No idle request waits past this (hold end + grace; known once the ramp is over).
  Clock::time_point idle_deadline = Clock::time_point::max();
  CancelSource idle_stop;  // cancelled when the hold ends
  std::uint64_t issued = 0, transfers = 0, bytes = 0, errors = 0, cut = 0, non_2xx = 0;
  std::uint64_t first_size = 0;  // HTTP: the first response's body size
  Clock::time_point active_start, last_done;
  double ramp_seconds = 0;
  std::string first_error;
  Histogram latency;  // ns per active transfer, request written to last byte read
  std::uint64_t connecting = 0, next_source = 0;
  ConnectCounts connects;
  IdleCounts idle;
  ProcessPeak peak;
  // Responses are read and dropped: one scratch buffer for every connection. Concurrent io_uring
  // reads may land in it at once in the length protocol, which is harmless because nobody reads
  // what it holds; HTTP heads are parsed, so HTTP reads it only right after a readiness wait
  // (load_http.cpp), on this thread, before any other connection runs.
  std::vector<std::byte> scratch;
};

// --- load_http.cpp
// "GET PATH HTTP/1.1" with Host and keep-alive.
std::string http_get(std::string_view path, std::string_view host);
struct HttpResponse {
  unsigned status = 0;
  std::uint64_t body_bytes = 0;
};
// Writes `request`, reads one response to its last body byte. An error names the peer; a
// response without Content-Length (or chunked), a head over 16 KiB, an early close or a
// `Connection: close` are errors (the connection cannot carry the next request).
Task<Result<HttpResponse>> http_exchange(LoadState& s, int fd, const std::string& request,
                                         const IoOptions& io);

// --- load_dial.cpp
// "127.0.0.2", "127.0.0.2-127.0.0.50", or a comma list of either: IPv4 loopback addresses only.
std::vector<sockaddr_in> parse_sources(std::string_view text);
// A connection to the first of s.peers that accepts, from the next source address, counted in
// s.connects (attempts, failures by errno name, latency).
Task<Result<UniqueFd>> open_connection(LoadState& s, IoOptions io);

// --- load_idle.cpp
// Opens --idle connections at --connect-rate, each sending a request per --idle-interval until
// s.idle_stop is cancelled; returns once every connection attempt has settled.
Task<void> ramp_idle(LoadState& s, TaskGroup& group);
// Samples this process's open fds and RSS into s.peak every 0.5 s until `stop` is cancelled.
Task<void> sample_process(LoadState& s, CancelToken stop);
ProcessPeak process_now();

// --- load_report.cpp
void print_report(const LoadState& s, const Usage& u, double elapsed);

}  // namespace zcnet::cli

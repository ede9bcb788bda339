// One configuration generation of a Proxy, immutable once built: the options, each listener's
// upstream pool and mirror target, the access log. A connection pins the Config it was accepted
// under, so a reload never changes a connection in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "proxy/upstreams.hpp"
#include "zcnet/proxy/proxy.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet::proxy {

// Where a listener's mirror copies go, shared by every worker of one generation.
struct MirrorTarget {
  bool file = false;
  Address address;   // tcp:
  UniqueFd fd;       // file: opened for writing
  std::string path;  // file:
  // file: the next offset to write at (each chunk reserves its own range)
  mutable std::atomic<std::uint64_t> end{0};
  std::chrono::milliseconds reconnect_after{1000};
};

struct ListenerConfig {
  ListenerOptions options;
  std::unique_ptr<UpstreamPool> pool;    // points at `options`
  std::unique_ptr<MirrorTarget> mirror;  // null: none
};

class Config {
 public:
  Config(ProxyOptions options, UniqueFd log) : options_(std::move(options)), log_(std::move(log)) {}
  const ProxyOptions& options() const noexcept { return options_; }
  std::size_t listeners() const noexcept { return listeners_.size(); }
  const ListenerConfig& listener(std::size_t i) const noexcept { return *listeners_[i]; }
  int access_log_fd() const noexcept { return log_.get(); }

 private:
  friend class Proxy;
  ProxyOptions options_;
  UniqueFd log_;
  std::vector<std::unique_ptr<ListenerConfig>> listeners_;
};

}  // namespace zcnet::proxy

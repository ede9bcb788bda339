// zcnet::MetricsEndpoint: answers Prometheus scrapes on its own thread, apart from the loops that
// serve traffic: GET /metrics gets what `collect` writes (text format 0.0.4), anything else 404.
// One request per connection, blocking I/O with a 2 s timeout per client (scrapes are rare).
//
//   auto ep = MetricsEndpoint::start(std::move(listener), [&](std::string& out) { ... }).value();
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet {

class MetricsEndpoint {
 public:
  using Collect = std::function<void(std::string& out)>;
  // `listener`: a listening socket (blocking or not). `collect` runs on the endpoint's thread.
  static Result<std::unique_ptr<MetricsEndpoint>> start(UniqueFd listener, Collect collect);
  ~MetricsEndpoint();  // stops accepting and joins the thread (within ~200 ms)
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

 private:
  MetricsEndpoint(UniqueFd listener, Collect collect);
  void run();
  void answer(int client);
  UniqueFd listener_;
  Collect collect_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zcnet

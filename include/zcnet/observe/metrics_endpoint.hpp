// zcnet::MetricsEndpoint: answers Prometheus scrapes on its own thread, apart from the loops that
// serve traffic: GET /metrics gets what `collect` writes (text format 0.0.4); any other request
// goes to `route` when there is one (an admin endpoint), else 404. One request per connection,
// a body of at most 64 KiB, blocking I/O with a 2 s timeout per client (such requests are rare).
//
//   auto ep = MetricsEndpoint::start(std::move(listener), [&](std::string& out) { ... }).value();
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "zcnet/sys/error.hpp"
#include "zcnet/sys/fd.hpp"

namespace zcnet {

struct EndpointRequest {
  std::string_view method;  // "GET", "PUT", ...
  std::string_view target;  // without the query
  std::string_view body;
  std::string_view peer;  // the client's address
};
struct EndpointReply {
  int status = 200;
  std::string body;
  std::string type = "text/plain; charset=utf-8";
};

class MetricsEndpoint {
 public:
  using Collect = std::function<void(std::string& out)>;
  using Route = std::function<std::optional<EndpointReply>(const EndpointRequest&)>;
  // `listener`: a listening socket (blocking or not). `collect` (none: /metrics is 404 too) and
  // `route` (nullopt from it: 404) run on the endpoint's thread.
  static Result<std::unique_ptr<MetricsEndpoint>> start(UniqueFd listener, Collect collect,
                                                        Route route = {});
  ~MetricsEndpoint();  // stops accepting and joins the thread (within ~200 ms)
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

 private:
  MetricsEndpoint(UniqueFd listener, Collect collect, Route route);
  void run();
  void answer(int client);
  UniqueFd listener_;
  Collect collect_;
  Route route_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace zcnet

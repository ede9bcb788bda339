// Active health checks: a TCP connect, or an HTTP/1.0 GET of a path whose status line must carry
// the expected status, each within the check timeout. rise/fall counts turn verdicts into state.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "proxy/config.hpp"
#include "proxy/connection.hpp"

namespace zcnet::proxy {

using namespace std::chrono_literals;

namespace {

struct Verdict {
  bool passed = false;
  bool ran = true;  // false: no socket to check with here (a local shortage): no verdict
  std::string why;
};

Task<Verdict> check_one(Loop& loop, const Upstream& u, const HealthOptions& h,
                        const CancelToken& stop) {
  const IoOptions io = within(h.timeout, stop);  // named: no temporaries inside co_await
  auto fd = co_await loop.dial(u.address.sa(), u.address.len, io);
  if (!fd && local_shortage(fd.error().code()))
    co_return Verdict{false, false, std::move(fd).error().message()};
  if (!fd)
    co_return Verdict{false, true, Error(fd.error().code(), "connect", u.address.name).message()};
  Verdict v{true, true, {}};
  if (!h.http_path.empty()) {
    const std::string req = fmt::format(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: zcnet-proxy-check\r\nConnection: close\r\n\r\n",
        h.http_path, u.address.name);
    auto wrote = co_await loop.write_all(fd->get(), std::as_bytes(std::span(req)), io);
    char line[256];
    std::size_t have = 0;
    while (wrote && have < sizeof line) {
      auto r = co_await loop.read(
          fd->get(), std::as_writable_bytes(std::span(line + have, sizeof line - have)), io);
      if (!r || *r == 0) break;
      have += *r;
      if (std::memchr(line, '\n', have)) break;
    }
    // "HTTP/1.x NNN ..."
    int status = 0;
    if (have >= 12 && std::memcmp(line, "HTTP/1.", 7) == 0)
      std::from_chars(line + 9, line + 12, status);
    if (status != h.expect_status)
      v = Verdict{false, true,
                  status ? fmt::format("HTTP status {} (want {})", status, h.expect_status)
                         : std::string("no HTTP status line")};
  }
  loop.close(std::move(*fd));
  co_return v;
}

Task<void> check_and_record(Loop& loop, std::shared_ptr<const Config> config, std::size_t li,
                            std::size_t ui, CancelToken stop) {
  const ListenerConfig& lc = config->listener(li);
  const Verdict v = co_await check_one(loop, lc.pool->upstreams()[ui], lc.options.health, stop);
  if (stop.cancelled() || !v.ran) co_return;
  lc.pool->checked(static_cast<int>(ui), v.passed, v.why);
}

}  // namespace

Task<void> run_health_checks(Proxy& proxy, Loop& loop, CancelToken stop) {
  std::vector<Clock::time_point> due;
  std::uint64_t generation = ~std::uint64_t{0};
  for (;;) {
    const std::shared_ptr<const Config> config = proxy.config();
    if (proxy.generation() != generation) {  // a reload: every listener is checked at once
      generation = proxy.generation();
      due.assign(config->listeners(), Clock::now());
    }
    const auto now = Clock::now();
    TaskGroup round(loop);
    Clock::time_point next = now + 1s;  // a reload that turns checks on is seen within a second
    for (std::size_t li = 0; li < config->listeners(); ++li) {
      const auto interval = config->listener(li).options.health.interval;
      if (interval.count() == 0) continue;
      if (due[li] <= now) {
        for (std::size_t ui = 0; ui < config->listener(li).pool->upstreams().size(); ++ui)
          round.spawn(check_and_record(loop, config, li, ui, stop));
        due[li] = now + interval;
      }
      next = std::min(next, due[li]);
    }
    (void)co_await round.join();
    auto slept = co_await loop.sleep_until(next, stop);
    if (!slept) co_return;
  }
}

}  // namespace zcnet::proxy

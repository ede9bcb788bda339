#include "proxy/upstreams.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>
#include <limits>

namespace zcnet::proxy {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

// Smooth weighted round robin (the order nginx's upstream module walks): each step every member
// gains its weight, the richest is picked and pays the total. Over one cycle each member appears
// weight times, spread out.
std::vector<std::uint16_t> weighted_order(const std::vector<Upstream>& all, bool backups) {
  std::vector<std::uint16_t> members;
  long total = 0;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].backup == backups) {
      members.push_back(static_cast<std::uint16_t>(i));
      total += all[i].weight;
    }
  std::vector<std::uint16_t> order;
  std::vector<long> current(members.size(), 0);
  for (long step = 0; step < total; ++step) {
    std::size_t best = 0;
    for (std::size_t m = 0; m < members.size(); ++m) {
      current[m] += all[members[m]].weight;
      if (current[m] > current[best]) best = m;
    }
    current[best] -= total;
    order.push_back(members[best]);
  }
  return order;
}

std::uint64_t hash_client(const sockaddr_storage& ss) noexcept {
  // FNV-1a over the address bytes (not the port: one client, one upstream).
  const unsigned char* p = nullptr;
  std::size_t n = 0;
  if (ss.ss_family == AF_INET) {
    p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in&>(ss).sin_addr);
    n = 4;
  } else if (ss.ss_family == AF_INET6) {
    p = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
    n = 16;
  }
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

UpstreamPool::UpstreamPool(const ListenerOptions& o, std::vector<Upstream> upstreams)
    : options_(&o), upstreams_(std::move(upstreams)) {
  order_[0] = weighted_order(upstreams_, false);
  order_[1] = weighted_order(upstreams_, true);
}

bool UpstreamPool::usable(int index, std::int64_t now) const noexcept {
  UpstreamState& s = *upstreams_[static_cast<std::size_t>(index)].state;
  if (s.up.load(std::memory_order_relaxed)) return true;
  // Passively marked down and no active check to bring it back: it gets another chance later.
  if (options_->health.interval.count() == 0) {
    const std::int64_t at = s.revive_at_ns.load(std::memory_order_relaxed);
    if (at != 0 && now >= at) return true;
  }
  return false;
}

int UpstreamPool::pick_in(bool backups, const sockaddr_storage& client, std::uint64_t tried,
                          std::int64_t now) const noexcept {
  const auto& order = order_[backups ? 1 : 0];
  if (order.empty()) return -1;
  auto candidate = [&](std::size_t i) {
    return !(tried >> i & 1) && usable(static_cast<int>(i), now);
  };
  switch (options_->balance) {
    case Balance::LeastConn: {
      // Fewest connections per unit of weight; ties go round robin.
      const std::uint64_t start = next_.fetch_add(1, std::memory_order_relaxed);
      int best = -1;
      double best_load = std::numeric_limits<double>::max();
      for (std::size_t k = 0; k < upstreams_.size(); ++k) {
        const std::size_t i = (start + k) % upstreams_.size();
        const Upstream& u = upstreams_[i];
        if (u.backup != backups || !candidate(i)) continue;
        const double load = u.state->active.load(std::memory_order_relaxed) / double(u.weight);
        if (load < best_load) {
          best_load = load;
          best = static_cast<int>(i);
        }
      }
      return best;
    }
    case Balance::Source:
    case Balance::RoundRobin: {
      const std::uint64_t start = options_->balance == Balance::Source
                                      ? hash_client(client)
                                      : next_.fetch_add(1, std::memory_order_relaxed);
      for (std::size_t k = 0; k < order.size(); ++k) {
        const std::size_t i = order[(start + k) % order.size()];
        if (candidate(i)) return static_cast<int>(i);
      }
      return -1;
    }
  }
  return -1;
}

int UpstreamPool::pick(const sockaddr_storage& client, std::uint64_t tried) const noexcept {
  const std::int64_t now = now_ns();
  const int primary = pick_in(false, client, tried, now);
  return primary >= 0 ? primary : pick_in(true, client, tried, now);
}

void UpstreamPool::set_up(const Upstream& u, bool up, std::string_view why) const {
  if (u.state->up.exchange(up) == up) return;
  u.state->transitions.fetch_add(1, std::memory_order_relaxed);
  fmt::print(stderr, "zcnet proxy: {}: upstream {} is {}{}{}\n", u.state->listener, u.state->name,
             up ? "up" : "down", why.empty() ? "" : ": ", why);
}

void UpstreamPool::connected(int index) const noexcept {
  const Upstream& u = upstreams_[static_cast<std::size_t>(index)];
  u.state->failed_connects.store(0, std::memory_order_relaxed);
  u.state->connections.fetch_add(1, std::memory_order_relaxed);
  // A passively downed upstream that took a connection again is up (no active check owns it).
  if (options_->health.interval.count() == 0 && !u.state->up.load(std::memory_order_relaxed)) {
    u.state->revive_at_ns.store(0, std::memory_order_relaxed);
    set_up(u, true, "a connect succeeded");
  }
}

void UpstreamPool::connect_failed(int index) const noexcept {
  const Upstream& u = upstreams_[static_cast<std::size_t>(index)];
  u.state->connect_errors.fetch_add(1, std::memory_order_relaxed);
  const unsigned fails = u.state->failed_connects.fetch_add(1, std::memory_order_relaxed) + 1;
  const unsigned fall = options_->passive_fall;
  if (fall == 0 || fails < fall) return;
  if (options_->health.interval.count() == 0) {
    const auto down = std::chrono::duration_cast<std::chrono::nanoseconds>(options_->passive_down);
    u.state->revive_at_ns.store(now_ns() + down.count(), std::memory_order_relaxed);
  }
  if (u.state->up.load(std::memory_order_relaxed))
    set_up(u, false, fmt::format("{} connects in a row failed", fails));
}

void UpstreamPool::checked(int index, bool passed, std::string_view why) const {
  const Upstream& u = upstreams_[static_cast<std::size_t>(index)];
  UpstreamState& s = *u.state;
  const HealthOptions& h = options_->health;
  if (passed) {
    s.check_failures = 0;
    if (++s.check_passes >= h.rise && !s.up.load()) {
      s.failed_connects.store(0, std::memory_order_relaxed);
      set_up(u, true, fmt::format("{} checks in a row passed", s.check_passes));
    }
  } else {
    s.checks_failed.fetch_add(1, std::memory_order_relaxed);
    s.check_passes = 0;
    if (++s.check_failures >= h.fall && s.up.load())
      set_up(u, false, fmt::format("{} checks in a row failed, last: {}", s.check_failures, why));
  }
}

}  // namespace zcnet::proxy

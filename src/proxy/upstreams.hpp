// Upstream pools: which upstream a new connection goes to (round robin with weights, least
// connections, source-address hash), and each upstream's health (active checks, passive marking
// after failed connects). An upstream's state lives as long as the Proxy and is shared by every
// configuration generation that names the same listener and address, so a reload keeps its
// health and its counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zcnet/proxy/proxy.hpp"

namespace zcnet::proxy {

enum class Way : std::uint8_t { ToUpstream = 0, ToClient = 1 };
enum class PathSlot : std::uint8_t { Splice = 0, Copy = 1, UringSplice = 2 };
inline constexpr std::size_t kPathSlots = 3;

// Written by every worker (relaxed atomic adds, once per burst of bytes or per connection, never
// per syscall) and by the health checker; read by scrapes.
struct UpstreamState {
  UpstreamState(std::string listener_name, std::string address_name)
      : listener(std::move(listener_name)), name(std::move(address_name)) {}
  const std::string listener;
  const std::string name;  // HOST:PORT as configured

  std::atomic<bool> up{true};
  std::atomic<unsigned> active{0};            // connections relayed now
  std::atomic<unsigned> failed_connects{0};   // consecutive (passive marking)
  std::atomic<std::int64_t> revive_at_ns{0};  // passive down without checks: up again after
  unsigned check_passes = 0;                  // consecutive (health checker thread only)
  unsigned check_failures = 0;

  std::atomic<std::uint64_t> connections{0};     // relayed (connected) in total
  std::atomic<std::uint64_t> connect_errors{0};  // failed connect attempts
  std::atomic<std::uint64_t> retries{0};         // connections that came here after another failed
  std::atomic<std::uint64_t> checks_failed{0};
  std::atomic<std::uint64_t> transitions{0};             // up <-> down
  std::atomic<std::uint64_t> bytes[2][kPathSlots] = {};  // [Way][PathSlot]

  void add_bytes(Way w, PathSlot p, std::uint64_t n) noexcept {
    bytes[static_cast<int>(w)][static_cast<int>(p)].fetch_add(n, std::memory_order_relaxed);
  }
};

struct Upstream {
  Address address;
  unsigned weight = 1;
  bool backup = false;
  std::shared_ptr<UpstreamState> state;
};

class UpstreamPool {
 public:
  UpstreamPool(const ListenerOptions& o, std::vector<Upstream> upstreams);

  const std::vector<Upstream>& upstreams() const noexcept { return upstreams_; }
  const ListenerOptions& options() const noexcept { return *options_; }

  // The upstream for a connection from `client`, skipping those in `tried` (a bit per index):
  // a usable non-backup one, else a usable backup, else -1.
  int pick(const sockaddr_storage& client, std::uint64_t tried) const noexcept;

  // Passive health: a connect succeeded / failed.
  void connected(int index) const noexcept;
  void connect_failed(int index) const noexcept;
  // Active health: one check's verdict (health checker thread only). Logs transitions.
  void checked(int index, bool passed, std::string_view why) const;

  bool usable(int index, std::int64_t now_ns) const noexcept;

 private:
  int pick_in(bool backups, const sockaddr_storage& client, std::uint64_t tried,
              std::int64_t now_ns) const noexcept;
  void set_up(const Upstream& u, bool up, std::string_view why) const;

  const ListenerOptions* options_;  // lives in the Config that owns this pool
  std::vector<Upstream> upstreams_;
  // The weighted round-robin order (indexes into upstreams_, each weight times, interleaved so
  // that heavy upstreams do not get runs of connections), one per tier.
  std::vector<std::uint16_t> order_[2];
  mutable std::atomic<std::uint64_t> next_{0};
};

std::int64_t now_ns() noexcept;

}  // namespace zcnet::proxy

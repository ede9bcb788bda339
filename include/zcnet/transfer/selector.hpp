// The selector picks one strategy per transfer and says why (docs/architecture.md, Invariants:
// every choice is recorded). Its thresholds come from a Profile: documented defaults
// (docs/performance.md, "The selector's profile") or one that `zcnet bench --calibrate` wrote for
// this machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "zcnet/sys/capabilities.hpp"
#include "zcnet/sys/error.hpp"
#include "zcnet/transfer/endpoint.hpp"
#include "zcnet/transfer/strategy.hpp"

namespace zcnet {

struct Profile {
  // File -> socket whose peer is on this machine (loopback, Unix). The receiver's copy bounds
  // throughput, so the question is which sender path keeps it fed; measured here
  // (docs/performance.md, "File -> loopback socket, by size"): read-write below the sendfile
  // window, sendfile inside it (a file that fits in one GSO segment leaves with no copy at all),
  // then mmap from the engine's cached whole-file mapping up to local_mapped_max_bytes (one copy,
  // page cache -> socket, and no mmap/munmap per transfer: 1.2-1.5x read-write's bytes at 0.7-0.8x
  // its CPU). Above that, from local_mmap_min_bytes up, mmap+write on a blocking socket and
  // sendfile on a nonblocking one that a loop steps (one 1 GiB stream: sendfile 6-9.5 GB/s, the
  // mapping 4.4-5.0), read-write below it. local_mapped_max_bytes = 0 leaves the cached mapping
  // out.
  std::uint64_t local_sendfile_min_bytes = 32 * 1024;
  std::uint64_t local_sendfile_max_bytes = 128 * 1024;
  std::uint64_t local_mapped_max_bytes = 256ull << 20;
  std::uint64_t local_mmap_min_bytes = 32 * 1024 * 1024;
  // File -> socket whose peer is remote: sendfile from this size up, read-write below it (not
  // measurable on loopback; the default follows nginx's practice of sendfile for every size
  // except tiny files, where one write of a cached header+body is cheaper).
  std::uint64_t remote_sendfile_min_bytes = 16 * 1024;
  // Memory -> socket: MSG_ZEROCOPY only pays off from about this size (kernel msg_zerocopy doc:
  // ~10 KB) and only to a remote peer (loopback always copies).
  std::uint64_t zerocopy_min_bytes = 64 * 1024;
  // Server mode (SelectorMode::Server) only: a body for a local peer that the rules above would
  // send with a copy (read-write, or mmap from the cached mapping, above the sendfile window)
  // goes by sendfile up to this size, which keeps a server's own CPU per GiB at nginx's under
  // hundreds of connections (docs/performance.md, "The selector's profile"). 0: server mode
  // chooses as the general one does.
  std::uint64_t server_local_sendfile_max_bytes = 2 * 1024 * 1024;

  static Profile defaults() { return {}; }
  // JSON object with the field names above; unknown keys ignored, missing keys keep defaults.
  static Result<Profile> load(const std::string& path);
  Result<void> save(const std::string& path) const;
  // $ZCNET_PROFILE, else $XDG_CONFIG_HOME/zcnet/profile.json, else ~/.config/zcnet/profile.json.
  static std::string default_path();
};

// Made once per transfer, so it holds no allocated text: `reason` is a static sentence, and the
// numbers that went into it are values; describe() formats them when someone asks.
struct Choice {
  StrategyKind strategy = StrategyKind::ReadWrite;
  std::string_view reason;                     // "file->local socket: inside the sendfile window"
  std::optional<std::uint64_t> size;           // bytes the choice was made for, if known
  std::optional<StrategyKind> fell_back_from;  // the strategy that could not run, if any
  int fallback_errno = 0;                      // ... and why (EINVAL, ENOSYS, EOPNOTSUPP ...)

  // "fallback from splice (EOPNOTSUPP): file->local socket: ... (1048576 B)"; allocates.
  std::string describe() const;
};

// Who the choice is for. General: one transfer on its own. Server: one of many responses a server
// sends at once, where its own CPU per byte counts (Profile::server_local_sendfile_max_bytes).
enum class SelectorMode : std::uint8_t { General, Server };

class Selector {
 public:
  Selector(const Capabilities& caps, Profile profile) : caps_(&caps), profile_(profile) {}

  // `size`: bytes to move if known. `forced` != Auto bypasses the policy (still checked against
  // endpoint kinds and capabilities by make_strategy).
  Choice choose(const Source& src, const Sink& dst, std::optional<std::uint64_t> size,
                StrategyKind forced = StrategyKind::Auto) const;
  // The file->socket policy of choose() for a peer whose location and socket mode the caller
  // already knows: a server asks once per connection instead of paying getpeername per response.
  // SelectorMode::Server adds the server's rule for local peers (see Profile).
  Choice choose_file_to_socket(std::optional<std::uint64_t> size, bool peer_local, bool nonblocking,
                               SelectorMode mode = SelectorMode::General) const;
  // The next strategy after `failed` for this pair (read-write ends every chain); nullopt if
  // `failed` was already the last. A strategy that failed for want of a pool buffer (`error`
  // ENOBUFS) goes to one that needs none instead: sendfile, else splice, for a file to a socket.
  std::optional<StrategyKind> fallback(StrategyKind failed, const Source& src, const Sink& dst,
                                       int error = 0) const;

  const Capabilities& caps() const noexcept { return *caps_; }
  const Profile& profile() const noexcept { return profile_; }

 private:
  const Capabilities* caps_;
  Profile profile_;
};

// True if the socket's peer is this machine (loopback address or AF_UNIX). One getpeername().
bool peer_is_local(int socket_fd) noexcept;

}  // namespace zcnet

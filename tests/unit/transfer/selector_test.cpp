#include "zcnet/transfer/selector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "support.hpp"

namespace zcnet {
namespace {

using test::TempFile;

Capabilities all_on() {
  Capabilities c;
  c.sendfile = c.splice = c.tee = c.msg_zerocopy = true;
  c.io_uring = c.uring_send = c.uring_send_zc = c.uring_splice = c.uring_fixed_buffers = true;
  c.uring_loop = true;
  return c;
}

TEST(Selector, FileToLocalSocket_AtOrAboveThreshold_ChoosesMmap) {
  Capabilities caps = all_on();
  Selector sel(caps, Profile::defaults());
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  const auto t = Profile::defaults().local_mmap_min_bytes;
  Choice ch = sel.choose(FileRange{f.fd()}, Socket{c.get()}, t);
  EXPECT_EQ(ch.strategy, StrategyKind::Mmap) << ch.reason;
  EXPECT_NE(ch.reason.find("local"), std::string::npos) << ch.reason;
}

TEST(Selector, LargeFileToLocalNonblockingSocket_ChoosesSendfile) {
  Capabilities caps = all_on();
  Selector sel(caps, Profile::defaults());
  auto [c, s] = test::tcp_pair(/*nonblocking_client=*/true);
  TempFile f = TempFile::empty();
  const Profile p = Profile::defaults();
  const auto t = std::max(p.local_mmap_min_bytes, p.local_mapped_max_bytes + 1);
  Choice ch = sel.choose(FileRange{f.fd()}, Socket{c.get()}, t);
  EXPECT_EQ(ch.strategy, StrategyKind::Sendfile) << ch.reason;
  Capabilities no_sendfile = without(caps, StrategyKind::Sendfile);
  EXPECT_EQ(Selector(no_sendfile, {}).choose(FileRange{f.fd()}, Socket{c.get()}, t).strategy,
            StrategyKind::Mmap);
}

TEST(Selector, FileToLocalSocket_AboveSendfileWindow_ChoosesTheCachedMapping) {
  Capabilities caps = all_on();
  const Profile p = Profile::defaults();
  auto [c, s] = test::tcp_pair(/*nonblocking_client=*/true);
  TempFile f = TempFile::empty();
  for (std::uint64_t n : {p.local_sendfile_max_bytes + 1, std::uint64_t{1} << 20,
                          std::uint64_t{16} << 20, p.local_mapped_max_bytes}) {
    Choice ch = Selector(caps, p).choose(FileRange{f.fd()}, Socket{c.get()}, n);
    EXPECT_EQ(ch.strategy, StrategyKind::Mmap) << n << ": " << ch.reason;
    EXPECT_NE(ch.reason.find("cached"), std::string::npos) << ch.reason;
  }
}

TEST(Selector, FileToLocalSocket_OutsideSendfileWindowBelowMmap_ChoosesReadWrite) {
  Capabilities caps = all_on();
  Profile p = Profile::defaults();
  p.local_mapped_max_bytes = 0;  // the cached mapping left out: read-write fills the gap
  Selector sel(caps, p);
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  for (std::uint64_t n : {std::uint64_t{0}, std::uint64_t{4096}, p.local_sendfile_min_bytes - 1,
                          p.local_sendfile_max_bytes + 1, p.local_mmap_min_bytes - 1}) {
    Choice ch = sel.choose(FileRange{f.fd()}, Socket{c.get()}, n);
    EXPECT_EQ(ch.strategy, StrategyKind::ReadWrite) << n << ": " << ch.reason;
  }
}

TEST(Selector, FileToLocalSocket_InsideSendfileWindow_ChoosesSendfile) {
  Capabilities caps = all_on();
  const Profile p = Profile::defaults();
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  for (std::uint64_t n :
       {p.local_sendfile_min_bytes, std::uint64_t{64 * 1024}, p.local_sendfile_max_bytes}) {
    Choice ch = Selector(caps, p).choose(FileRange{f.fd()}, Socket{c.get()}, n);
    EXPECT_EQ(ch.strategy, StrategyKind::Sendfile) << n << ": " << ch.reason;
  }
  Capabilities no_sendfile = without(caps, StrategyKind::Sendfile);
  EXPECT_EQ(Selector(no_sendfile, p).choose(FileRange{f.fd()}, Socket{c.get()}, 65536).strategy,
            StrategyKind::ReadWrite);
}

TEST(Selector, ProfileThresholds_AreHonoured) {
  Capabilities caps = all_on();
  Profile p;
  p.local_mmap_min_bytes = 1;
  Selector sel(caps, p);
  auto [c, s] = test::unix_pair();
  TempFile f = TempFile::empty();
  EXPECT_EQ(sel.choose(FileRange{f.fd()}, Socket{c.get()}, 2).strategy, StrategyKind::Mmap);
}

TEST(Selector, SocketToFile_ChoosesSplice_OrReadWriteWithoutIt) {
  Capabilities caps = all_on();
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  EXPECT_EQ(Selector(caps, {}).choose(Socket{s.get()}, FileRange{f.fd()}, {}).strategy,
            StrategyKind::Splice);
  Capabilities no_splice = without(caps, StrategyKind::Splice);
  Choice ch = Selector(no_splice, {}).choose(Socket{s.get()}, FileRange{f.fd()}, {});
  EXPECT_EQ(ch.strategy, StrategyKind::ReadWrite);
  EXPECT_NE(ch.reason.find("unavailable"), std::string::npos) << ch.reason;
}

TEST(Selector, MemoryToLocalSocket_NeverZeroCopy) {
  Capabilities caps = all_on();
  auto [c, s] = test::tcp_pair();
  std::vector<std::byte> big(1 << 20);
  Choice ch = Selector(caps, {}).choose(Memory{big}, Socket{c.get()}, big.size());
  EXPECT_EQ(ch.strategy, StrategyKind::ReadWrite) << "loopback copies MSG_ZEROCOPY data anyway";
}

TEST(Selector, Forced_IsReturnedAsIs) {
  Capabilities caps = all_on();
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  Choice ch =
      Selector(caps, {}).choose(FileRange{f.fd()}, Socket{c.get()}, 10, StrategyKind::UringSendZc);
  EXPECT_EQ(ch.strategy, StrategyKind::UringSendZc);
  EXPECT_EQ(ch.reason, "forced by the caller");
}

// Server mode, pinned case by case with the default Profile (sendfile window 32-128 KiB, cached
// mapping up to 256 MiB, server bound 2 MiB) for a nonblocking socket, as serve asks.
struct ServerCase {
  const char* name;
  std::uint64_t size;
  bool peer_local;
  bool sendfile;
  StrategyKind expect;
  const char* reason_part;
};

TEST(SelectorServerMode, EachSizeAndPeer_ChoosesAsTheServerRuleSays) {
  const Profile p = Profile::defaults();
  ASSERT_EQ(p.server_local_sendfile_max_bytes, 2u << 20);
  const std::uint64_t bound = p.server_local_sendfile_max_bytes;
  const ServerCase cases[] = {
      {"local, inside the sendfile window", 64 * 1024, true, true, StrategyKind::Sendfile,
       "inside the sendfile window"},
      {"local, just above the sendfile window", p.local_sendfile_max_bytes + 1, true, true,
       StrategyKind::Sendfile, "server mode"},
      {"local, 1 MiB", 1 << 20, true, true, StrategyKind::Sendfile, "server mode"},
      {"local, at the bound", bound, true, true, StrategyKind::Sendfile, "server mode"},
      {"local, just above the bound", bound + 1, true, true, StrategyKind::Mmap, "cached"},
      {"local, 5 MiB", 5 << 20, true, true, StrategyKind::Mmap, "cached"},
      {"local, below the sendfile window", p.local_sendfile_min_bytes - 1, true, true,
       StrategyKind::ReadWrite, "outside the sendfile window"},
      {"local, 1 MiB, sendfile unavailable", 1 << 20, true, false, StrategyKind::Mmap, "cached"},
      {"local, 64 KiB, sendfile unavailable", 64 * 1024, true, false, StrategyKind::ReadWrite,
       "outside the sendfile window"},
      {"remote, 1 MiB", 1 << 20, false, true, StrategyKind::Sendfile,
       "at or above the sendfile threshold"},
      {"remote, below its sendfile threshold", p.remote_sendfile_min_bytes - 1, false, true,
       StrategyKind::ReadWrite, "below the sendfile threshold"},
      {"remote, 1 MiB, sendfile unavailable", 1 << 20, false, false, StrategyKind::ReadWrite,
       "sendfile unavailable"},
  };
  for (const ServerCase& c : cases) {
    const Capabilities caps = c.sendfile ? all_on() : without(all_on(), StrategyKind::Sendfile);
    const Choice ch =
        Selector(caps, p).choose_file_to_socket(c.size, c.peer_local, true, SelectorMode::Server);
    EXPECT_EQ(ch.strategy, c.expect) << c.name << ": " << ch.reason;
    EXPECT_NE(ch.reason.find(c.reason_part), std::string::npos) << c.name << ": " << ch.reason;
    EXPECT_EQ(ch.size, c.size) << c.name;
  }
}

TEST(SelectorServerMode, GeneralMode_KeepsTheCopyAboveTheSendfileWindow) {
  const Capabilities caps = all_on();  // the Selector keeps a pointer to it
  const Choice ch = Selector(caps, Profile::defaults())
                        .choose_file_to_socket(1 << 20, true, true, SelectorMode::General);
  EXPECT_EQ(ch.strategy, StrategyKind::Mmap) << ch.reason;
}

TEST(SelectorServerMode, BoundZero_ChoosesAsGeneralMode) {
  Profile p = Profile::defaults();
  p.server_local_sendfile_max_bytes = 0;
  const Capabilities caps = all_on();  // the Selector keeps a pointer to it
  const Selector sel(caps, p);
  for (std::uint64_t n : {std::uint64_t{64 * 1024}, std::uint64_t{1} << 20, std::uint64_t{5} << 20})
    EXPECT_EQ(sel.choose_file_to_socket(n, true, true, SelectorMode::Server).strategy,
              sel.choose_file_to_socket(n, true, true, SelectorMode::General).strategy)
        << n;
}

TEST(SelectorServerMode, LargerBound_TakesSendfileFurther) {
  Profile p = Profile::defaults();
  p.server_local_sendfile_max_bytes = 8 << 20;
  const Capabilities caps = all_on();  // the Selector keeps a pointer to it
  const Choice ch =
      Selector(caps, p).choose_file_to_socket(5 << 20, true, true, SelectorMode::Server);
  EXPECT_EQ(ch.strategy, StrategyKind::Sendfile) << ch.reason;
}

// The rule serve applied before server mode existed (general choice, then sendfile for a local
// copy above the sendfile window up to the bound), against server mode, over sizes on and around
// every threshold, both peers, both socket modes, with and without sendfile, three bounds and a
// calibrated-looking profile.
TEST(SelectorServerMode, MatchesTheServersFormerRule_EveryCombination) {
  Profile calibrated;
  calibrated.local_sendfile_min_bytes = 64 * 1024;
  calibrated.local_sendfile_max_bytes = 512 * 1024;
  calibrated.local_mapped_max_bytes = 0;
  calibrated.local_mmap_min_bytes = 4 << 20;
  for (Profile p : {Profile::defaults(), calibrated}) {
    for (std::uint64_t bound : {std::uint64_t{0}, std::uint64_t{2} << 20, std::uint64_t{8} << 20}) {
      p.server_local_sendfile_max_bytes = bound;
      std::vector<std::uint64_t> sizes = {0, 1, 4096, 32 << 20, 300ull << 20, 1ull << 30};
      for (std::uint64_t t :
           {p.local_sendfile_min_bytes, p.local_sendfile_max_bytes, p.local_mapped_max_bytes,
            p.local_mmap_min_bytes, p.remote_sendfile_min_bytes, bound})
        for (std::uint64_t d : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}})
          sizes.insert(sizes.end(), {t + d, t > d ? t - d : 0});
      for (bool sendfile : {true, false}) {
        const Capabilities caps = sendfile ? all_on() : without(all_on(), StrategyKind::Sendfile);
        const Selector sel(caps, p);
        for (bool local : {true, false})
          for (bool nonblocking : {true, false})
            for (std::uint64_t n : sizes) {
              StrategyKind former = sel.choose_file_to_socket(n, local, nonblocking).strategy;
              const bool copies = former == StrategyKind::ReadWrite || former == StrategyKind::Mmap;
              if (copies && local && caps.sendfile && n > p.local_sendfile_max_bytes && n <= bound)
                former = StrategyKind::Sendfile;
              EXPECT_EQ(
                  sel.choose_file_to_socket(n, local, nonblocking, SelectorMode::Server).strategy,
                  former)
                  << "size " << n << " local " << local << " nonblocking " << nonblocking
                  << " sendfile " << sendfile << " bound " << bound;
            }
      }
    }
  }
}

TEST(Selector, FallbackChains_EndInReadWrite) {
  Capabilities caps = all_on();
  Selector sel(caps, {});
  auto [c, s] = test::tcp_pair();
  TempFile f = TempFile::empty();
  Source src = FileRange{f.fd()};
  Sink dst = Socket{c.get()};
  EXPECT_EQ(sel.fallback(StrategyKind::UringSendZc, src, dst), StrategyKind::UringSend);
  EXPECT_EQ(sel.fallback(StrategyKind::UringSend, src, dst), StrategyKind::ReadWrite);
  EXPECT_EQ(sel.fallback(StrategyKind::UringSplice, src, dst), StrategyKind::Splice);
  EXPECT_EQ(sel.fallback(StrategyKind::Sendfile, src, dst), StrategyKind::Splice);
  EXPECT_EQ(sel.fallback(StrategyKind::Splice, src, dst), StrategyKind::ReadWrite);
  EXPECT_EQ(sel.fallback(StrategyKind::ReadWrite, src, dst), std::nullopt);
  EXPECT_EQ(sel.fallback(StrategyKind::Tee, src, dst), std::nullopt);
  Capabilities no_uring_send = without(caps, StrategyKind::UringSend);
  EXPECT_EQ(Selector(no_uring_send, {}).fallback(StrategyKind::UringSendZc, src, dst),
            StrategyKind::ReadWrite);
}

TEST(PeerIsLocal, LoopbackAndUnix_AreLocal_UnconnectedIsNot) {
  auto [c, s] = test::tcp_pair();
  EXPECT_TRUE(peer_is_local(c.get()));
  auto [u1, u2] = test::unix_pair();
  EXPECT_TRUE(peer_is_local(u1.get()));
  EXPECT_FALSE(peer_is_local(-1));
}

TEST(Profile, SaveThenLoad_RoundTrips_AndBadFileIsTypedError) {
  TempFile f = TempFile::empty();
  Profile p;
  p.local_mmap_min_bytes = 12345;
  p.local_sendfile_max_bytes = 999;
  p.zerocopy_min_bytes = 777;
  p.server_local_sendfile_max_bytes = 4242;
  ASSERT_TRUE(p.save(f.path()));
  auto q = Profile::load(f.path());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->local_mmap_min_bytes, 12345u);
  EXPECT_EQ(q->zerocopy_min_bytes, 777u);
  EXPECT_EQ(q->local_sendfile_max_bytes, 999u);
  EXPECT_EQ(q->server_local_sendfile_max_bytes, 4242u);
  EXPECT_EQ(q->remote_sendfile_min_bytes, Profile{}.remote_sendfile_min_bytes);

  ASSERT_EQ(::pwrite(f.fd(), "not json", 8, 0), 8);
  ASSERT_EQ(::ftruncate(f.fd(), 8), 0);
  auto bad = Profile::load(f.path());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), EINVAL);
  auto missing = Profile::load(f.path() + ".missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ENOENT);
}

TEST(Capabilities, Without_TurnsOffOnlyThatFeature) {
  Capabilities caps = all_on();
  Capabilities c = without(caps, StrategyKind::Splice);
  EXPECT_FALSE(allows(c, StrategyKind::Splice));
  EXPECT_FALSE(allows(c, StrategyKind::Tee));
  EXPECT_TRUE(allows(c, StrategyKind::Sendfile));
  EXPECT_TRUE(allows(c, StrategyKind::ReadWrite));
  EXPECT_TRUE(allows(without(caps, StrategyKind::ReadWrite), StrategyKind::ReadWrite));
}

TEST(StrategyNames, RoundTrip) {
  for (auto k :
       {StrategyKind::ReadWrite, StrategyKind::Mmap, StrategyKind::Sendfile, StrategyKind::Splice,
        StrategyKind::Tee, StrategyKind::MsgZerocopy, StrategyKind::UringSend,
        StrategyKind::UringSendZc, StrategyKind::UringSplice, StrategyKind::Auto})
    EXPECT_EQ(parse_strategy(to_string(k)), k);
  EXPECT_EQ(parse_strategy("nope"), std::nullopt);
}

TEST(Error, Message_NamesErrnoOpAndContext) {
  Error e(ECONNRESET, "sendfile", "file /tmp/x -> peer 127.0.0.1:1");
  EXPECT_EQ(e.errno_name(), "ECONNRESET");
  EXPECT_EQ(e.message().rfind("sendfile: ECONNRESET (", 0), 0u) << e.message();
  EXPECT_NE(e.message().find("peer 127.0.0.1:1"), std::string::npos);
  auto [c, s] = test::tcp_pair();
  EXPECT_EQ(describe_fd(c.get()).rfind("peer 127.0.0.1:", 0), 0u) << describe_fd(c.get());
  TempFile f = TempFile::empty();
  EXPECT_EQ(describe_fd(f.fd()), "file " + f.path());
}

}  // namespace
}  // namespace zcnet

#include "zcnet/transfer/selector.hpp"

#include <gtest/gtest.h>

#include <algorithm>

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
  ASSERT_TRUE(p.save(f.path()));
  auto q = Profile::load(f.path());
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->local_mmap_min_bytes, 12345u);
  EXPECT_EQ(q->zerocopy_min_bytes, 777u);
  EXPECT_EQ(q->local_sendfile_max_bytes, 999u);
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

// The Transfer: choice recorded, fallbacks lossless, header corked with the body.
#include "zcnet/transfer/transfer.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "support.hpp"

namespace zcnet {
namespace {

using test::Receiver;
using test::TempFile;

EngineOptions with_caps(Capabilities caps) {
  EngineOptions o;
  o.caps = caps;
  o.profile = Profile::defaults();
  return o;
}

TEST(Transfer, Auto_FileToLocalSocket_RecordsChoiceAndIsByteExact) {
  EngineOptions o = with_caps(Capabilities::probe());
  o.profile->local_mmap_min_bytes = 1 << 20;  // the engine uses the profile it is given
  Engine engine(std::move(o));
  TempFile f = TempFile::with_pattern(3 << 20);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()});
  auto stats = run_blocking(t);
  ASSERT_TRUE(stats) << stats.error().message();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(stats->bytes, f.size());
  EXPECT_EQ(t.choice().strategy, StrategyKind::Mmap) << t.choice().reason;
  EXPECT_FALSE(t.choice().reason.empty());
  EXPECT_TRUE(t.done());
}

// A choice the caller made (a server, with its peer known per connection) is taken as it is,
// reason included, when the strategy is Auto.
TEST(Transfer, CallersChoice_IsTakenAsItIs_AndIsByteExact) {
  Engine engine(with_caps(Capabilities::probe()));
  TempFile f = TempFile::with_pattern(1 << 20);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  TransferOptions o;
  o.choice = engine.selector().choose_file_to_socket(f.size(), true, false);
  ASSERT_EQ(o.choice->strategy, StrategyKind::Mmap) << o.choice->reason;
  o.choice->strategy = StrategyKind::ReadWrite;  // not what choose() would say for this pair
  o.choice->reason = "the caller's reason";
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
  auto stats = run_blocking(t);
  ASSERT_TRUE(stats) << stats.error().message();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, f.size());
  EXPECT_EQ(got.hash, f.hash());
  EXPECT_EQ(t.choice().strategy, StrategyKind::ReadWrite);
  EXPECT_EQ(t.choice().reason, "the caller's reason");
}

TEST(Transfer, ForcedStrategy_WinsOverTheCallersChoice) {
  Engine engine(with_caps(Capabilities::probe()));
  TempFile f = TempFile::with_pattern(64 * 1024);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  TransferOptions o;
  o.strategy = StrategyKind::ReadWrite;
  o.choice = Choice{StrategyKind::Mmap, "the caller's reason", f.size()};
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
  ASSERT_TRUE(run_blocking(t));
  c.reset();
  EXPECT_EQ(rx.wait().bytes, f.size());
  EXPECT_EQ(t.choice().strategy, StrategyKind::ReadWrite);
  EXPECT_EQ(t.choice().reason, "forced by the caller");
}

// Every forced strategy whose capability is switched off falls back without losing a byte.
class TransferFallback : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(TransferFallback, CapabilityOff_FallsBackByteExact) {
  const StrategyKind k = GetParam();
  Engine engine(with_caps(without(Capabilities::probe(), k)));
  TempFile f = TempFile::with_pattern(1 << 20);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  TransferOptions o;
  o.strategy = k;
  Transfer t(engine, FileRange{f.fd(), 1000, 500000}, Socket{c.get()}, o);
  auto stats = run_blocking(t);
  ASSERT_TRUE(stats) << stats.error().message();
  c.reset();
  auto got = rx.wait();
  EXPECT_EQ(got.bytes, 500000u);
  EXPECT_EQ(got.hash, f.hash(1000, 500000));
  EXPECT_NE(t.choice().strategy, k);
  EXPECT_GE(stats->fallbacks, 1u);
  EXPECT_NE(t.choice().describe().find("fallback from"), std::string::npos)
      << t.choice().describe();
}

INSTANTIATE_TEST_SUITE_P(EveryKernelMechanism, TransferFallback,
                         ::testing::Values(StrategyKind::Sendfile, StrategyKind::Splice,
                                           StrategyKind::MsgZerocopy, StrategyKind::UringSend,
                                           StrategyKind::UringSendZc, StrategyKind::UringSplice),
                         [](const auto& p) {
                           std::string n(to_string(p.param));
                           std::erase(n, '-');
                           return n;
                         });

TEST(Transfer, ForcedWithoutFallback_CapabilityOff_IsTypedError) {
  Engine engine(with_caps(without(Capabilities::probe(), StrategyKind::Splice)));
  TempFile f = TempFile::with_pattern(4096);
  auto [c, s] = test::tcp_pair();
  TransferOptions o;
  o.strategy = StrategyKind::Splice;
  o.allow_fallback = false;
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
  auto r = run_blocking(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), EOPNOTSUPP) << r.error().message();
}

// Many transfers at once can empty the buffer pool: an auto transfer whose read-write finds no
// buffer (ENOBUFS) moves to sendfile, which needs none, and loses no byte; with fallback
// forbidden it stays a typed ENOBUFS error.
TEST(Transfer, PoolExhausted_ReadWriteFallsBackToSendfile_ByteExact) {
  if (!Capabilities::probe().sendfile) GTEST_SKIP() << "no sendfile in this build";
  for (bool allow : {true, false}) {
    EngineOptions eo = with_caps(Capabilities::probe());
    eo.pool.buffers_per_class = 1;
    eo.pool.max_buffers_per_class = 1;
    Engine engine(std::move(eo));
    TransferOptions o;
    o.strategy = StrategyKind::ReadWrite;
    o.allow_fallback = allow;
    auto held = engine.buffers().acquire(o.chunk_bytes);  // the only buffer of that class
    ASSERT_TRUE(held) << held.error().message();
    TempFile f = TempFile::with_pattern(1 << 20, 3);
    auto [c, s] = test::tcp_pair();
    Receiver rx(std::move(s));
    Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
    auto stats = run_blocking(t);
    c.reset();
    auto got = rx.wait();
    if (!allow) {
      ASSERT_FALSE(stats);
      EXPECT_EQ(stats.error().code(), ENOBUFS) << stats.error().message();
      EXPECT_EQ(got.bytes, 0u);
      continue;
    }
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_EQ(got.bytes, f.size());
    EXPECT_EQ(got.hash, f.hash());
    EXPECT_EQ(t.choice().strategy, StrategyKind::Sendfile) << t.choice().describe();
    EXPECT_EQ(t.choice().fell_back_from, StrategyKind::ReadWrite);
    EXPECT_EQ(t.choice().fallback_errno, ENOBUFS);
    EXPECT_EQ(stats->bytes_copied_user, 0u);
  }
}

TEST(Selector, BufferShortage_OnlyFileToSocketMovesToABufferlessStrategy) {
  Engine engine(with_caps(Capabilities::probe()));
  const Selector& sel = engine.selector();
  TempFile f = TempFile::with_pattern(10);
  auto [c, s] = test::tcp_pair();
  const FileRange file{f.fd()};
  if (Capabilities::probe().sendfile) {
    EXPECT_EQ(sel.fallback(StrategyKind::ReadWrite, file, Socket{c.get()}, ENOBUFS),
              StrategyKind::Sendfile);
  }
  // Any other failure of read-write still ends the chain, and socket -> socket has no
  // bufferless route here.
  EXPECT_EQ(sel.fallback(StrategyKind::ReadWrite, file, Socket{c.get()}, EIO), std::nullopt);
  EXPECT_EQ(sel.fallback(StrategyKind::ReadWrite, Socket{s.get()}, Socket{c.get()}, ENOBUFS),
            std::nullopt);
}

TEST(Transfer, Header_IsCorkedWithBody_AndArrivesFirst) {
  Engine engine;
  TempFile f = TempFile::with_pattern(100000);
  auto [c, s] = test::tcp_pair();
  Receiver rx(std::move(s));
  const std::string header = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
  TransferOptions o;
  o.header = std::as_bytes(std::span(header));
  o.strategy = StrategyKind::Sendfile;
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
  auto stats = run_blocking(t);
  ASSERT_TRUE(stats) << stats.error().message();
  c.reset();
  auto got = rx.wait();
  std::vector<char> expect(header.begin(), header.end());
  expect.resize(header.size() + 100000);
  ASSERT_EQ(::pread(f.fd(), expect.data() + header.size(), 100000, 0), 100000);
  EXPECT_EQ(got.bytes, expect.size());
  EXPECT_EQ(got.hash, test::hash_bytes(expect.data(), expect.size()));
  EXPECT_EQ(stats->bytes, expect.size());
}

TEST(Transfer, Header_WithEmptyBody_IsStillPushed) {
  Engine engine;
  TempFile f = TempFile::empty();
  auto [c, s] = test::tcp_pair();
  const std::string header = "HTTP/1.1 204 No Content\r\n\r\n";
  TransferOptions o;
  o.header = std::as_bytes(std::span(header));
  Transfer t(engine, FileRange{f.fd()}, Socket{c.get()}, o);
  ASSERT_TRUE(run_blocking(t));
  // No MSG_MORE on a header with nothing after it: it must arrive without waiting for more.
  char buf[64];
  ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
  EXPECT_EQ(n, static_cast<ssize_t>(header.size()));
}

TEST(Transfer, OffsetPastEndOfFile_MovesNothingAndIsDone) {
  Engine engine;
  TempFile f = TempFile::with_pattern(100);
  auto [c, s] = test::tcp_pair();
  Transfer t(engine, FileRange{f.fd(), 5000, {}}, Socket{c.get()});
  auto stats = run_blocking(t);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->bytes, 0u);
  EXPECT_TRUE(t.done());
}

TEST(Transfer, StatedLengthBeyondEndOfFile_IsEnodataNotShortSuccess) {
  Engine engine;
  TempFile f = TempFile::with_pattern(1000);
  auto [c, s] = test::tcp_pair();
  test::Receiver rx(std::move(s));
  for (StrategyKind k : {StrategyKind::Auto, StrategyKind::ReadWrite, StrategyKind::Sendfile}) {
    TransferOptions o;
    o.strategy = k;
    Transfer t(engine, FileRange{f.fd(), 0, 5000}, Socket{c.get()}, o);
    auto r = run_blocking(t);
    ASSERT_FALSE(r) << to_string(k) << " reported success for 1000 of 5000 bytes";
    EXPECT_EQ(r.error().code(), ENODATA) << r.error().message();
  }
}

TEST(Transfer, BadSourceFd_IsTypedErrorNotCrash) {
  Engine engine;
  auto [c, s] = test::tcp_pair();
  Transfer t(engine, FileRange{-1}, Socket{c.get()});
  auto r = run_blocking(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), EBADF);
}

TEST(Transfer, SilentSocketSource_IdleTimeout_IsEtimedout) {
  Engine engine;
  auto [c, s] = test::tcp_pair(/*nonblocking_client=*/true);
  TempFile out = TempFile::empty();
  Transfer t(engine, Socket{c.get()}, FileRange{out.fd()});
  auto r = run_blocking(t, 50);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ETIMEDOUT) << r.error().message();
}

TEST(Transfer, SocketToFile_Auto_UntilEof_IsByteExact) {
  Engine engine;
  TempFile src = TempFile::with_pattern(5 << 20);
  TempFile out = TempFile::empty();
  auto pair = test::tcp_pair();
  UniqueFd c = std::move(pair.first), s = std::move(pair.second);
  std::thread sender([&] {
    Transfer t(engine, FileRange{src.fd()}, Socket{c.get()});
    ASSERT_TRUE(run_blocking(t));
    c.reset();
  });
  Engine rx_engine;
  Transfer t(rx_engine, Socket{s.get()}, FileRange{out.fd()});
  auto stats = run_blocking(t);
  sender.join();
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(out.size(), src.size());
  EXPECT_EQ(out.hash(), src.hash());
  if (Capabilities::probe().splice) {
    EXPECT_EQ(t.choice().strategy, StrategyKind::Splice) << t.choice().reason;
    EXPECT_EQ(stats->bytes_copied_user, 0u);
  } else {
    EXPECT_EQ(t.choice().strategy, StrategyKind::ReadWrite) << t.choice().reason;
  }
}

}  // namespace
}  // namespace zcnet

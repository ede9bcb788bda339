// zcnet::proxy::Proxy on real loopback sockets, on every backend and data path: byte-exact relay
// both ways (hash at each end), half-close and reset passing through, failover, health checks,
// mirroring, pipe exhaustion, many connections, the PROXY header, reload.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_process.hpp"
#include "proxy/proxy_protocol.hpp"
#include "proxy_fixture.hpp"
#include "sys/faults.hpp"
#include "zcnet/observe/syscall_timing.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;
using proxy::DataPath;

struct Case {
  std::string backend;
  DataPath path;
};

std::string case_name(const ::testing::TestParamInfo<Case>& i) {
  std::string name = i.param.backend + "_" + std::string(proxy::to_string(i.param.path));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (const char* b : {kReactorBackend, "uring"})
    for (DataPath p : {DataPath::Auto, DataPath::Copy}) {
#ifdef ZCNET_PORTABLE
      if (std::string(b) == "uring") continue;
#endif
      all.push_back({b, p});
    }
#ifndef ZCNET_PORTABLE
  all.push_back({"uring", DataPath::UringSplice});  // every splice an io_uring operation
#endif
  return all;
}

class ProxyTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (GetParam().backend == "uring" && !uring_backend_available())
      GTEST_SKIP() << "io_uring not available here";
  }
  proxy::ProxyOptions options(std::vector<std::string> ups) {
    return one_listener(std::move(ups), GetParam().path);
  }
  std::unique_ptr<RunningProxy> start(proxy::ProxyOptions o, std::size_t workers = 1) {
    return std::make_unique<RunningProxy>(std::move(o), GetParam().backend, workers);
  }
  // Whether this case's large flows must show spliced bytes.
  bool splices() const {
#ifdef ZCNET_PORTABLE
    return false;
#else
    return GetParam().path != DataPath::Copy;
#endif
  }
};

// An upstream that sends `down` pattern bytes (seed 2) while it reads what the client sends, then
// half-closes; what it read is recorded per connection.
struct SinkAndSend {
  explicit SinkAndSend(std::size_t n) : down(pattern(n, 2)) {}  // made before a client waits
  const std::vector<std::byte> down;
  std::mutex mu;
  std::vector<Got> got;
  Upstream::Handler handler() {
    return [this](int fd, std::size_t) {
      std::thread sender([&] {
        (void)write_all(fd, down);
        ::shutdown(fd, SHUT_WR);
      });
      Got g = read_to_end(fd);
      sender.join();
      std::lock_guard lock(mu);
      got.push_back(g);
    };
  }
  // True once `n` connections have read to their end (the client may see its EOF before the
  // upstream has read the client's last bytes: a half-close each way).
  bool finished(std::size_t n) {
    return eventually([&] {
      std::lock_guard lock(mu);
      return got.size() >= n;
    });
  }
};

// A client that sends `up` pattern bytes (seed 1) and half-closes while it reads until EOF.
Got client_exchange(std::uint16_t port, std::size_t up) {
  UniqueFd c = connect_loopback(port);
  std::thread sender([&] {
    (void)write_all(c.get(), pattern(up, 1));
    ::shutdown(c.get(), SHUT_WR);
  });
  Got g = read_to_end(c.get());
  sender.join();
  return g;
}

// `n` clients in a row, each closed by the proxy (an end of stream or a reset) before any byte.
void expect_closed_before_any_byte(std::uint16_t port, int n) {
  for (int i = 0; i < n; ++i) {
    UniqueFd c = connect_loopback(port);
    const Got g = read_to_end(c.get());
    EXPECT_EQ(g.bytes, 0u) << "client " << i;
    EXPECT_TRUE(g.err == 0 || g.err == ECONNRESET) << "client " << i << ": " << g.err;
  }
}

TEST_P(ProxyTest, RelaysBothWaysByteExactFromOneByteUp) {
  for (std::size_t size : {std::size_t{1}, std::size_t{65537}, std::size_t{8} << 20}) {
    SCOPED_TRACE(size);
    SinkAndSend peer(size);
    Upstream up(peer.handler());
    auto p = start(options({up.address()}));
    const Got at_client = client_exchange(p->port(), size);
    EXPECT_EQ(at_client.err, 0);
    EXPECT_EQ(at_client.bytes, size);
    EXPECT_EQ(at_client.hash, pattern_hash(size, 2));
    ASSERT_TRUE(peer.finished(1));
    up.stop();
    ASSERT_EQ(peer.got.size(), 1u);
    EXPECT_EQ(peer.got[0].bytes, size);
    EXPECT_EQ(peer.got[0].hash, pattern_hash(size, 1));
    // Every byte is counted once, under the path that moved it: a burst's first bytes are
    // copied through the probe buffer, the rest of a large one spliced.
    const std::string labels = "{listener=\"test\",upstream=\"" + up.address() + "\",direction=";
    // The spliced bytes are counted under the path that spliced them.
    const char* spliced = GetParam().path == DataPath::UringSplice ? "uring-splice" : "splice";
    const auto moved = [&](const char* direction, const char* path) {
      return p->metric("zcnet_proxy_bytes_total" + labels + "\"" + direction + "\",path=\"" + path +
                       "\"}");
    };
    EXPECT_TRUE(eventually(
        [&] { return moved("to_client", spliced) + moved("to_client", "copy") == double(size); }));
    EXPECT_EQ(moved("to_upstream", spliced) + moved("to_upstream", "copy"), double(size));
    if (size >= (std::size_t{8} << 20)) {
      EXPECT_EQ(moved("to_client", spliced) > double(size) / 2, splices());
      EXPECT_EQ(moved("to_upstream", spliced) > double(size) / 2, splices());
    }
  }
}

TEST_P(ProxyTest, RelaysOneGibibyteByteExact) {
  // 1 GiB on the splice path; the copy path, and every path under ThreadSanitizer (whose
  // instrumented pattern and hash loops take about 20 s per GiB), move 256 MiB.
#if defined(__SANITIZE_THREAD__)
  const std::size_t size = std::size_t{256} << 20;
#else
  const std::size_t size =
      GetParam().path == DataPath::Copy ? std::size_t{256} << 20 : std::size_t{1} << 30;
#endif
  SinkAndSend peer(size);
  Upstream up(peer.handler());
  auto p = start(options({up.address()}));
  const Got at_client = client_exchange(p->port(), 1000);
  EXPECT_EQ(at_client.bytes, size);
  EXPECT_EQ(at_client.hash, pattern_hash(size, 2));
  ASSERT_TRUE(peer.finished(1));
  up.stop();
  ASSERT_EQ(peer.got.size(), 1u);
  EXPECT_EQ(peer.got[0].hash, pattern_hash(1000, 1));
}

TEST_P(ProxyTest, ClientHalfCloseLeavesTheReplyFlowing) {
  // The upstream answers only after it saw the client's FIN.
  Upstream up([](int fd, std::size_t) {
    const Got req = read_to_end(fd);
    if (req.bytes == 5000) (void)write_all(fd, pattern(1 << 20, 7));
  });
  auto p = start(options({up.address()}));
  UniqueFd c = connect_loopback(p->port());
  ASSERT_EQ(write_all(c.get(), pattern(5000, 1)), 0);
  ::shutdown(c.get(), SHUT_WR);
  const Got g = read_to_end(c.get());
  EXPECT_EQ(g.err, 0);
  EXPECT_EQ(g.bytes, 1u << 20);
  EXPECT_EQ(g.hash, pattern_hash(1 << 20, 7));
}

TEST_P(ProxyTest, UpstreamHalfCloseLeavesTheClientFlowing) {
  // The upstream sends a greeting and half-closes at once; the client talks on afterwards.
  std::promise<Got> seen;
  Upstream up([&](int fd, std::size_t) {
    (void)write_all(fd, pattern(100, 3));
    ::shutdown(fd, SHUT_WR);
    seen.set_value(read_to_end(fd));
  });
  auto p = start(options({up.address()}));
  UniqueFd c = connect_loopback(p->port());
  char buf[200];
  std::size_t have = 0;
  while (have < 100) {
    const ssize_t n = ::recv(c.get(), buf + have, sizeof buf - have, 0);
    ASSERT_GT(n, 0);
    have += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(::recv(c.get(), buf, sizeof buf, 0), 0);  // the upstream's FIN came through
  ASSERT_EQ(write_all(c.get(), pattern(3 << 20, 4)), 0);
  ::shutdown(c.get(), SHUT_WR);
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
  const Got g = f.get();
  EXPECT_EQ(g.bytes, 3u << 20);
  EXPECT_EQ(g.hash, pattern_hash(3 << 20, 4));
}

void reset_close(UniqueFd& fd) {
  const linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

TEST_P(ProxyTest, ClientResetReachesTheUpstream) {
  std::promise<Got> seen;
  Upstream up([&](int fd, std::size_t) { seen.set_value(read_to_end(fd)); });
  auto p = start(options({up.address()}));
  UniqueFd c = connect_loopback(p->port());
  ASSERT_EQ(write_all(c.get(), pattern(1000, 1)), 0);
  std::this_thread::sleep_for(100ms);  // relayed before the reset
  reset_close(c);
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
  const Got g = f.get();
  EXPECT_EQ(g.err, ECONNRESET);
  EXPECT_TRUE(
      eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"reset\"}") == 1; }));
}

TEST_P(ProxyTest, UpstreamResetReachesTheClient) {
  Upstream up([](int fd, std::size_t) {
    (void)write_all(fd, pattern(1000, 1));
    std::this_thread::sleep_for(100ms);
    const linger l{1, 0};  // the close that follows the handler sends RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  });
  auto p = start(options({up.address()}));
  UniqueFd c = connect_loopback(p->port());
  const Got g = read_to_end(c.get());
  EXPECT_EQ(g.err, ECONNRESET);
  EXPECT_EQ(g.bytes, 1000u);
}

TEST_P(ProxyTest, UpstreamDownAtStartIsSkipped) {
  SinkAndSend peer(4096);
  Upstream live(peer.handler());
  const std::string dead = "127.0.0.1:" + std::to_string(closed_port());
  auto o = options({dead, live.address()});
  auto p = start(o);
  for (int i = 0; i < 6; ++i) {
    const Got g = client_exchange(p->port(), 100);
    EXPECT_EQ(g.bytes, 4096u) << "connection " << i;
    EXPECT_EQ(g.hash, pattern_hash(4096, 2));
  }
  const std::string labels = "{listener=\"test\",upstream=\"" + dead + "\"}";
  EXPECT_GE(p->metric("zcnet_proxy_upstream_connect_errors_total" + labels), 1);
  // Three failed connects in a row (passive_fall) take it out of the rotation.
  EXPECT_LE(p->metric("zcnet_proxy_upstream_connect_errors_total" + labels), 3);
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_up" + labels), 0);
  EXPECT_EQ(live.connections(), 6u);
}

TEST_P(ProxyTest, UpstreamKilledMidRunFailsOverWithoutHangingClients) {
  SinkAndSend a_peer(64 << 20), b_peer(4096);
  auto a = std::make_unique<Upstream>(a_peer.handler());
  Upstream b(b_peer.handler());
  auto p = start(options({a->address(), b.address()}));
  // One connection lands on `a` (round robin starts there) with a long response in flight.
  UniqueFd c = connect_loopback(p->port());
  ASSERT_TRUE(eventually([&] { return a->connections() == 1; }));
  a->stop();                           // its connection is shut down mid-response, its port closed
  const Got g = read_to_end(c.get());  // ends (EOF or reset), no hang
  EXPECT_LT(g.bytes, std::uint64_t{64} << 20);
  for (int i = 0; i < 6; ++i) {
    const Got ok = client_exchange(p->port(), 10);
    EXPECT_EQ(ok.bytes, 4096u) << "connection " << i;
  }
  EXPECT_EQ(b.connections(), 6u);
}

TEST_P(ProxyTest, NoUpstreamLeftClosesTheClientCleanly) {
  auto p = start(options({"127.0.0.1:" + std::to_string(closed_port())}));
  expect_closed_before_any_byte(p->port(), 5);
  EXPECT_TRUE(
      eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"no-upstream\"}") == 5; }));
}

#if ZCNET_FAULTS
// A socket the proxy cannot open for want of descriptors (EMFILE, ENFILE) is its own shortage, not
// the upstream's failure: the client is closed with an error, the upstream is not marked down and
// counts no connect error, and the next connection, with descriptors to be had, gets through.
TEST_P(ProxyTest, NoDescriptorForTheUpstreamSocket_ClientClosed_UpstreamNotBlamed) {
  SinkAndSend peer(4096);
  Upstream up(peer.handler());
  auto p = start(options({up.address()}));
  const std::string labels = "{listener=\"test\",upstream=\"" + up.address() + "\"}";
  sys::faults::arm_process({.seed = 1,
                            .one_in = 1,
                            .kinds = sys::faults::bit(sys::faults::Fault::Emfile),
                            .fd_calls = sys::faults::bit(sys::faults::FdCall::Socket)});
  expect_closed_before_any_byte(p->port(), 5);
  EXPECT_TRUE(
      eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"error\"}") == 5; }));
  sys::faults::disarm_process();
  EXPECT_EQ(up.connections(), 0u);
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_connect_errors_total" + labels), 0);
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_up" + labels), 1);
  const Got ok = client_exchange(p->port(), 100);
  EXPECT_EQ(ok.bytes, 4096u);
  EXPECT_EQ(ok.hash, pattern_hash(4096, 2));
}
#endif

TEST_P(ProxyTest, HealthChecksMarkDownAfterFallAndUpAfterRise) {
  SinkAndSend peer(10);
  auto up = std::make_unique<Upstream>(peer.handler());
  const std::uint16_t port = up->port();
  auto o = options({up->address()});
  o.listeners[0].health.interval = 30ms;
  o.listeners[0].health.timeout = 500ms;
  o.listeners[0].health.rise = 2;
  o.listeners[0].health.fall = 2;
  auto p = start(o);
  const std::string key = "{listener=\"test\",upstream=\"127.0.0.1:" + std::to_string(port) + "\"}";
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_up" + key), 1);
  up.reset();  // closed: connects are refused
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_upstream_up" + key) == 0; }));
  EXPECT_GE(p->metric("zcnet_proxy_upstream_checks_failed_total" + key), 2);
  up = std::make_unique<Upstream>(peer.handler(), port);
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_upstream_up" + key) == 1; }));
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_transitions_total" + key), 2);
  EXPECT_EQ(client_exchange(p->port(), 1).bytes, 10u);
}

TEST_P(ProxyTest, HttpHealthCheckWantsTheStatus) {
  std::atomic<int> status{200};
  std::atomic<int> checks{0};
  Upstream up([&](int fd, std::size_t) {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    if (std::string_view(buf, static_cast<std::size_t>(n)).starts_with("GET /health HTTP/1.0"))
      ++checks;
    const std::string resp = "HTTP/1.0 " + std::to_string(status.load()) + " X\r\n\r\n";
    ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
  });
  auto o = options({up.address()});
  o.listeners[0].health.interval = 30ms;
  o.listeners[0].health.http_path = "/health";
  o.listeners[0].health.fall = 2;
  o.listeners[0].health.rise = 1;
  auto p = start(o);
  const std::string key = "{listener=\"test\",upstream=\"" + up.address() + "\"}";
  ASSERT_TRUE(eventually([&] { return checks.load() >= 2; }));
  EXPECT_EQ(p->metric("zcnet_proxy_upstream_up" + key), 1);
  status = 503;
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_upstream_up" + key) == 0; }));
  status = 200;
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_upstream_up" + key) == 1; }));
}

TEST_P(ProxyTest, RoundRobinFollowsWeightsAndBackupsWaitForAllDown) {
  SinkAndSend pa(1), pb(1), pc(1);
  Upstream a(pa.handler()), b(pb.handler()), backup(pc.handler());
  auto o = options({});
  o.listeners[0].upstreams = {
      {a.address(), 2, false}, {b.address(), 1, false}, {backup.address(), 1, true}};
  auto p = start(o);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(client_exchange(p->port(), 1).bytes, 1u);
  EXPECT_EQ(a.connections(), 20u);
  EXPECT_EQ(b.connections(), 10u);
  EXPECT_EQ(backup.connections(), 0u);
  a.stop();
  b.stop();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client_exchange(p->port(), 1).bytes, 1u);
  EXPECT_EQ(backup.connections(), 5u);
}

TEST_P(ProxyTest, LeastConnAndSourceHashPick) {
  SinkAndSend pa(1), pb(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // `a` holds every connection open until released.
  Upstream a([&](int fd, std::size_t i) {
    released.wait();
    pa.handler()(fd, i);
  });
  Upstream b(pb.handler());
  {
    // Two connections held on `a` alone, then `b` joins by reload (the upstream's state, its
    // connection count included, carries over): least connections sends the next ones to `b`.
    auto o = options({a.address()});
    o.listeners[0].balance = proxy::Balance::LeastConn;
    auto p = start(o);
    UniqueFd held1 = connect_loopback(p->port());
    UniqueFd held2 = connect_loopback(p->port());
    ASSERT_TRUE(eventually([&] { return a.connections() == 2; }));
    auto both = options({a.address(), b.address()});
    both.listeners[0].balance = proxy::Balance::LeastConn;
    ASSERT_TRUE(p->proxy().reload(both));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(client_exchange(p->port(), 1).bytes, 1u);
    EXPECT_EQ(b.connections(), 4u);
    EXPECT_EQ(a.connections(), 2u);
    release.set_value();
  }
  const std::size_t a0 = a.connections(), b0 = b.connections();
  auto o = options({a.address(), b.address()});
  o.listeners[0].balance = proxy::Balance::Source;
  auto p = start(o);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(client_exchange(p->port(), 1).bytes, 1u);
  // One client address: one upstream every time.
  EXPECT_TRUE((a.connections() - a0 == 6 && b.connections() == b0) ||
              (b.connections() - b0 == 6 && a.connections() == a0));
}

// A mirror peer that records what each of its connections received, or (stalled) reads nothing
// until the test lets it go.
struct MirrorPeer {
  std::mutex mu;
  std::vector<Got> got;
  std::promise<void> unstall;
  std::shared_future<void> unstalled = unstall.get_future().share();
  bool stall = false;
  Upstream::Handler handler() {
    return [this](int fd, std::size_t) {
      if (stall) {  // its receive window fills and stays full
        unstalled.wait();
        return;
      }
      Got g = read_to_end(fd);
      std::lock_guard lock(mu);
      got.push_back(g);
    };
  }
};

TEST_P(ProxyTest, MirrorReceivesExactlyTheClientBytes) {
  SinkAndSend peer(1 << 20);
  Upstream up(peer.handler());
  MirrorPeer m;
  Upstream mirror(m.handler());
  auto o = options({up.address()});
  o.listeners[0].mirror.target = "tcp:" + mirror.address();
  auto p = start(o);
  const std::size_t size = 4 << 20;
  const Got g = client_exchange(p->port(), size);
  EXPECT_EQ(g.hash, pattern_hash(1 << 20, 2));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m.mu);
    return !m.got.empty();
  }));
  std::lock_guard lock(m.mu);
  EXPECT_EQ(m.got[0].bytes, size);
  EXPECT_EQ(m.got[0].hash, pattern_hash(size, 1));
  EXPECT_EQ(p->metric("zcnet_proxy_mirror_bytes_total{result=\"dropped\"}"), 0);
  EXPECT_EQ(p->metric("zcnet_proxy_mirror_bytes_total{result=\"sent\"}"), double(size));
}

TEST_P(ProxyTest, MirrorToAFileGetsBothWays) {
  char tmpl[] = "/tmp/zcnet-mirror-XXXXXX";
  UniqueFd keep(::mkstemp(tmpl));
  const std::string path = tmpl;
  Upstream up([](int fd, std::size_t) {
    (void)read_to_end(fd);  // the reply comes after the request: the file is in order
    (void)write_all(fd, pattern(200000, 5));
  });
  auto o = options({up.address()});
  o.listeners[0].mirror.target = "file:" + path;
  o.listeners[0].mirror.both_ways = true;
  auto p = start(o);
  UniqueFd c = connect_loopback(p->port());
  ASSERT_EQ(write_all(c.get(), pattern(300000, 1)), 0);
  ::shutdown(c.get(), SHUT_WR);
  EXPECT_EQ(read_to_end(c.get()).bytes, 200000u);
  ASSERT_TRUE(eventually(
      [&] { return p->metric("zcnet_proxy_mirror_bytes_total{result=\"sent\"}") == 500000; }));
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  ASSERT_EQ(all.size(), 500000u);
  auto want = pattern(300000, 1);
  const auto reply = pattern(200000, 5);
  want.insert(want.end(), reply.begin(), reply.end());
  EXPECT_EQ(hash_bytes(all.data(), all.size()), hash_bytes(want.data(), want.size()));
}

TEST_P(ProxyTest, StalledMirrorDoesNotSlowTheClient) {
  SinkAndSend peer(0);
  Upstream up(peer.handler());
  MirrorPeer m;
  m.stall = true;
  Upstream mirror(m.handler());
  auto o = options({up.address()});
  o.listeners[0].mirror.target = "tcp:" + mirror.address();
  auto p = start(o);
  const std::size_t size = 64 << 20;  // far beyond what the mirror's socket buffers hold
  // The mirror reads nothing until the exchange is over: had the proxy waited for it, the
  // exchange would never end (read_all gives up after 20 s without a byte).
  const Got g = client_exchange(p->port(), size);
  EXPECT_EQ(g.err, 0);
  m.unstall.set_value();
  ASSERT_TRUE(peer.finished(1));
  up.stop();
  ASSERT_EQ(peer.got.size(), 1u);
  EXPECT_EQ(peer.got[0].bytes, size);
  EXPECT_EQ(peer.got[0].hash, pattern_hash(size, 1));
  EXPECT_GT(p->metric("zcnet_proxy_mirror_bytes_total{result=\"dropped\"}"), 0);
  EXPECT_GE(p->metric("zcnet_proxy_mirror_cuts_total"), 1);
}

TEST_P(ProxyTest, PipeExhaustionFallsBackToCopying) {
  if (GetParam().path == DataPath::Copy) GTEST_SKIP() << "no pipes on the copy path";
#ifdef ZCNET_PORTABLE
  GTEST_SKIP() << "no splice in the portable build";
#endif
  SinkAndSend peer(8 << 20);
  Upstream up(peer.handler());
  auto o = options({up.address()});
  o.max_pipes = 1;
  auto p = start(o);
  std::vector<std::thread> clients;
  std::vector<Got> got(4);
  for (std::size_t i = 0; i < got.size(); ++i)
    clients.emplace_back([&, i] { got[i] = client_exchange(p->port(), 8 << 20); });
  for (auto& t : clients) t.join();
  for (const Got& g : got) {
    EXPECT_EQ(g.bytes, 8u << 20);
    EXPECT_EQ(g.hash, pattern_hash(8 << 20, 2));
  }
  ASSERT_TRUE(peer.finished(got.size()));
  up.stop();
  for (const Got& g : peer.got) EXPECT_EQ(g.hash, pattern_hash(8 << 20, 1));
  EXPECT_GT(p->metric("zcnet_proxy_pipe_fallbacks_total"), 0);
  const std::string labels = "{listener=\"test\",upstream=\"" + up.address() + "\",direction=";
  EXPECT_GT(p->metric("zcnet_proxy_bytes_total" + labels + "\"to_client\",path=\"copy\"}"), 0);
}

TEST_P(ProxyTest, ThousandConcurrentConnections) {
  // An echo upstream; 1000 clients connected at once, each sends 1 KiB and reads it back.
  Upstream up([](int fd, std::size_t) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (::send(fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
  });
  auto o = options({up.address()});
  auto p = start(o, 2);
  constexpr int kClients = 1000;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(connect_loopback(p->port()));
  for (int i = 0; i < kClients; ++i)
    ASSERT_EQ(write_all(clients[static_cast<std::size_t>(i)].get(), pattern(1024, i + 1)), 0);
  ASSERT_TRUE(eventually([&] { return p->proxy().connections() == kClients; }));
  for (int i = 0; i < kClients; ++i) {
    int fd = clients[static_cast<std::size_t>(i)].get();
    ::shutdown(fd, SHUT_WR);
    const Got g = read_to_end(fd);
    ASSERT_EQ(g.bytes, 1024u) << "client " << i;
    ASSERT_EQ(g.hash, pattern_hash(1024, static_cast<std::uint64_t>(i + 1)));
  }
}

TEST_P(ProxyTest, SendsTheProxyHeaderFirst) {
  for (auto version : {proxy::ProxyHeader::V1, proxy::ProxyHeader::V2}) {
    std::promise<Got> seen;
    Upstream up([&](int fd, std::size_t) { seen.set_value(read_to_end(fd)); });
    auto o = options({up.address()});
    o.listeners[0].send_proxy = version;
    auto p = start(o);
    UniqueFd c = connect_loopback(p->port());
    sockaddr_in me{};
    socklen_t len = sizeof me;
    ::getsockname(c.get(), reinterpret_cast<sockaddr*>(&me), &len);
    ASSERT_EQ(write_all(c.get(), pattern(10, 1)), 0);
    ::shutdown(c.get(), SHUT_WR);
    (void)read_to_end(c.get());
    auto f = seen.get_future();
    ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
    const Got g = f.get();
    const unsigned cport = ntohs(me.sin_port);
    std::string want;
    if (version == proxy::ProxyHeader::V1) {
      want = "PROXY TCP4 127.0.0.1 127.0.0.1 " + std::to_string(cport) + " " +
             std::to_string(p->port()) + "\r\n";
    } else {
      const unsigned char head[16] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                      0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 12};
      want.assign(reinterpret_cast<const char*>(head), 16);
      const unsigned char addrs[8] = {127, 0, 0, 1, 127, 0, 0, 1};
      want.append(reinterpret_cast<const char*>(addrs), 8);
      want.push_back(static_cast<char>(cport >> 8));
      want.push_back(static_cast<char>(cport & 0xff));
      want.push_back(static_cast<char>(p->port() >> 8));
      want.push_back(static_cast<char>(p->port() & 0xff));
    }
    ASSERT_EQ(g.bytes, want.size() + 10);
    EXPECT_EQ(g.head.substr(0, want.size()), want);
    const auto body = pattern(10, 1);
    EXPECT_EQ(0, std::memcmp(g.head.data() + want.size(), body.data(), 10));
  }
}

TEST_P(ProxyTest, ReloadKeepsConnectionsInFlightOnTheOldUpstream) {
  SinkAndSend pa(0), pb(0);
  Upstream a(pa.handler()), b(pb.handler());
  auto p = start(options({a.address()}));
  UniqueFd old = connect_loopback(p->port());
  ASSERT_EQ(write_all(old.get(), pattern(1 << 20, 1)), 0);
  ASSERT_TRUE(eventually([&] { return a.connections() == 1; }));
  ASSERT_TRUE(p->proxy().reload(options({b.address()})));
  EXPECT_EQ(p->proxy().generation(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client_exchange(p->port(), 100).err, 0);
  EXPECT_EQ(b.connections(), 3u);
  // The connection from before the reload still reaches `a`, every byte of it.
  ASSERT_EQ(write_all(old.get(), pattern(1 << 20, 9)), 0);
  ::shutdown(old.get(), SHUT_WR);
  (void)read_to_end(old.get());  // EOF came early: `a` half-closed at once
  ASSERT_TRUE(pa.finished(1));
  a.stop();
  EXPECT_EQ(pa.got[0].bytes, 2u << 20);
  auto want = pattern(1 << 20, 1);
  const auto more = pattern(1 << 20, 9);
  want.insert(want.end(), more.begin(), more.end());
  EXPECT_EQ(pa.got[0].hash, hash_bytes(want.data(), want.size()));
  // A reload that would move a listener is refused, and the running Config stays.
  auto moved = options({b.address()});
  moved.listeners[0].listen = "127.0.0.1:1";
  EXPECT_FALSE(p->proxy().reload(moved));
  EXPECT_EQ(p->proxy().generation(), 1u);
}

// Every span of an OTLP-JSON lines file, in order.
std::vector<nlohmann::json> spans_in(const std::string& path) {
  std::vector<nlohmann::json> all;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json doc = nlohmann::json::parse(line);
    for (const auto& s : doc.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans"))
      all.push_back(s);
  }
  return all;
}

// --trace-file: one span per relayed connection, with what moved each way and how it ended, and
// its trace id at the end of the access-log line.
TEST_P(ProxyTest, EachConnectionIsOneSpan_TraceIdInTheAccessLog) {
  Upstream up([](int fd, std::size_t) {
    const Got req = read_to_end(fd);
    if (req.bytes == 5000) (void)write_all(fd, pattern(300000, 3));
  });
  const std::string dir = ::testing::TempDir();
  const std::string spans = dir + "proxy-spans-" + std::to_string(::getpid()) + ".jsonl";
  const std::string log = dir + "proxy-log-" + std::to_string(::getpid()) + ".txt";
  ::unlink(spans.c_str());
  ::unlink(log.c_str());
  UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  ASSERT_TRUE(log_fd);
  auto o = options({up.address()});
  o.tracer = Tracer::open({.file = spans}).value();
  o.access_log_fd = log_fd.get();
  auto p = start(o);
  for (int i = 0; i < 2; ++i) {
    UniqueFd c = connect_loopback(p->port());
    ASSERT_EQ(write_all(c.get(), pattern(5000, 1)), 0);
    ::shutdown(c.get(), SHUT_WR);
    EXPECT_EQ(read_to_end(c.get()).bytes, 300000u);
  }
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"done\"}") == 2; }));
  p->stop();  // the workers flush their access-log lines
  o.tracer->flush();
  const std::vector<nlohmann::json> all = spans_in(spans);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(all[0]["traceId"], all[1]["traceId"]);
  std::ifstream lin(log);
  const std::string lines((std::istreambuf_iterator<char>(lin)), std::istreambuf_iterator<char>());
  for (const auto& s : all) {
    EXPECT_EQ(s["name"], "relay");
    std::map<std::string, std::string> a;
    for (const auto& kv : s["attributes"]) {
      const auto& v = kv["value"];
      a[kv["key"]] = v.contains("stringValue") ? v["stringValue"].get<std::string>()
                                               : v["intValue"].get<std::string>();
    }
    EXPECT_EQ(a["zcnet.bytes_up"], "5000");
    EXPECT_EQ(a["zcnet.bytes_down"], "300000");
    EXPECT_EQ(a["zcnet.close"], "done");
    EXPECT_EQ(a["server.address"], up.address());
    EXPECT_FALSE(a["zcnet.path_down"].empty());
    EXPECT_EQ(s["status"]["code"], 0);
    EXPECT_NE(lines.find("trace=" + s["traceId"].get<std::string>()), std::string::npos) << lines;
  }
  ::unlink(spans.c_str());
  ::unlink(log.c_str());
}

// --trace-sample never,upstream:NAME=always: only the connections that went to NAME are recorded
// (decided when each ends, since the upstream is picked after the trace starts).
TEST_P(ProxyTest, UpstreamRuleRecordsOnlyThatUpstreamsConnections) {
  const auto handler = [](int fd, std::size_t) {
    (void)read_to_end(fd);
    (void)write_all(fd, pattern(1000, 2));
  };
  Upstream a(handler), b(handler);
  const std::string spans =
      ::testing::TempDir() + "proxy-upstream-spans-" + std::to_string(::getpid()) + ".jsonl";
  ::unlink(spans.c_str());
  auto o = options({a.address(), b.address()});  // round robin: a, b, a, b
  o.tracer =
      Tracer::open({.file = spans, .sample = "never,upstream:" + b.address() + "=always"}).value();
  auto p = start(o);
  for (int i = 0; i < 4; ++i) {
    UniqueFd c = connect_loopback(p->port());
    ASSERT_EQ(write_all(c.get(), pattern(100, 1)), 0);
    ::shutdown(c.get(), SHUT_WR);
    EXPECT_EQ(read_to_end(c.get()).bytes, 1000u);
  }
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"done\"}") == 4; }));
  EXPECT_EQ(a.connections() + b.connections(), 4u);
  p->stop();
  o.tracer->flush();
  std::vector<std::string> servers;
  for (const auto& s : spans_in(spans))
    for (const auto& kv : s.at("attributes"))
      if (kv.at("key") == "server.address") servers.push_back(kv.at("value").at("stringValue"));
  EXPECT_EQ(servers.size(), b.connections());
  for (const auto& name : servers) EXPECT_EQ(name, b.address());
  ::unlink(spans.c_str());
}

// promtool accepts the proxy's exposition after a relayed connection (per upstream, per path).
TEST_P(ProxyTest, MetricsExposition_PromtoolAcceptsIt) {
  const std::string tool = promtool();
  if (tool.empty()) GTEST_SKIP() << "no promtool (scripts/setup.sh puts it in build/tools)";
  Upstream up([](int fd, std::size_t) {
    const Got req = read_to_end(fd);
    if (req.bytes == 5000) (void)write_all(fd, pattern(300000, 3));
  });
  auto p = start(options({up.address()}));
  set_syscall_timing(true);  // labelled histograms in the exposition too
  UniqueFd c = connect_loopback(p->port());
  ASSERT_EQ(write_all(c.get(), pattern(5000, 1)), 0);
  ::shutdown(c.get(), SHUT_WR);
  EXPECT_EQ(read_to_end(c.get()).bytes, 300000u);
  set_syscall_timing(false);
  ASSERT_TRUE(eventually([&] { return p->metric("zcnet_proxy_closed_total") >= 0; }));
  if (splices()) {  // a pipe was leased; the watchdog copies the pool's counts in on its tick
    EXPECT_TRUE(eventually([&] {
      return p->metrics().find("zcnet_pipe_pool_acquires_total{result=\"created\"} 0\n") ==
             std::string::npos;
    })) << p->metrics();
  }
  const std::string text = p->metrics();
  EXPECT_NE(text.find("zcnet_proxy_"), std::string::npos) << text;
  EXPECT_NE(text.find("zcnet_pipe_pool_pipes{state=\"idle\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("zcnet_buffer_pool_buffers{state=\"allocated\"}"), std::string::npos);
#ifndef ZCNET_PORTABLE
  EXPECT_NE(text.find("process_resident_memory_bytes"), std::string::npos);  // read from /proc
#endif
  if (kObserve && GetParam().backend != "uring") {  // io_uring operations are not timed
    EXPECT_NE(text.find("zcnet_syscall_duration_seconds_count{syscall="), std::string::npos)
        << text;
  }
  const Checked r = promtool_check_metrics(tool, text);
  ASSERT_TRUE(r.code);
  EXPECT_EQ(*r.code, 0) << r.said << "\n" << text;
}

TEST_P(ProxyTest, IdleTimeoutClosesASilentConnection) {
  Upstream up([](int fd, std::size_t) { (void)read_to_end(fd); });
  auto o = options({up.address()});
  o.idle_timeout = 200ms;
  auto p = start(o);
  UniqueFd c = connect_loopback(p->port());
  const auto began = std::chrono::steady_clock::now();
  const Got g = read_to_end(c.get());
  EXPECT_EQ(g.bytes, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_TRUE(
      eventually([&] { return p->metric("zcnet_proxy_closed_total{how=\"idle-timeout\"}") == 1; }));
}

// TCP_NOTSENT_LOWAT of the socket in this process whose local port is `local` (0: any) and whose
// peer's port is `peer` (0: any); -1 if there is none. It looks at the fd table from outside, as a
// tool would, with raw syscalls: ThreadSanitizer would otherwise pair this look with the proxy's
// later close of the same fd, which only the kernel orders (the upstream's FIN reaching the proxy).
long notsent_lowat_of(std::uint16_t local, std::uint16_t peer) {
  for (int fd = 0; fd < 4096; ++fd) {
    struct stat st {};
    if (::syscall(SYS_fstat, fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in me{}, them{};
    socklen_t len = sizeof me;
    if (::syscall(SYS_getsockname, fd, &me, &len) != 0 || me.sin_family != AF_INET) continue;
    len = sizeof them;
    if (::syscall(SYS_getpeername, fd, &them, &len) != 0) continue;
    if ((local && ntohs(me.sin_port) != local) || (peer && ntohs(them.sin_port) != peer)) continue;
    unsigned v = 0;
    len = sizeof v;
    if (::syscall(SYS_getsockopt, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len) != 0) return -1;
    return static_cast<long>(v);
  }
  return -1;
}

TEST_P(ProxyTest, BothSocketsCarryTheNotsentLowat) {
  // 0 sets nothing: the socket reads back 0 (the kernel then applies its sysctl).
  for (const std::uint32_t lowat : {12345u, 0u}) {
    SCOPED_TRACE(lowat);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> got{false};
    Upstream up([&got, released](int fd, std::size_t) {
      char b;
      (void)::recv(fd, &b, 1, 0);
      got = true;
      (void)released.wait_for(10s);  // holds the connection open while the test looks
    });
    auto o = options({up.address()});
    o.notsent_lowat = lowat;
    auto p = start(o);
    UniqueFd c = connect_loopback(p->port());
    ASSERT_EQ(::send(c.get(), "x", 1, MSG_NOSIGNAL), 1);
    EXPECT_TRUE(eventually([&] { return got.load(); }));
    EXPECT_EQ(notsent_lowat_of(p->port(), 0), long{lowat});  // the client's socket in the proxy
    EXPECT_EQ(notsent_lowat_of(0, up.port()), long{lowat});  // the proxy's upstream socket
    release.set_value();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ProxyTest, ::testing::ValuesIn(cases()), case_name);

TEST(ProxyOptions, BadOptionsAreRefusedWithTheReason) {
  auto none = one_listener({});
  auto r = proxy::Proxy::open(none);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("has no upstream"), std::string::npos) << r.error().message();
  auto bad_addr = one_listener({"nowhere"});
  r = proxy::Proxy::open(bad_addr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not HOST:PORT"), std::string::npos);
  auto weight = one_listener({"127.0.0.1:1"});
  weight.listeners[0].upstreams[0].weight = 0;
  r = proxy::Proxy::open(weight);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("weight 0"), std::string::npos);
  auto mirror = one_listener({"127.0.0.1:1"});
  mirror.listeners[0].mirror.target = "udp:1.2.3.4:5";
  r = proxy::Proxy::open(mirror);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("neither tcp:HOST:PORT nor file:PATH"), std::string::npos);
  EXPECT_FALSE(proxy::parse_balance("nope"));
  EXPECT_FALSE(proxy::parse_proxy_header("v3"));
}

TEST(ProxyHeader, Ipv6AndUnknownFamiliesFollowTheSpec) {
  sockaddr_storage src{}, dst{};
  auto& s6 = reinterpret_cast<sockaddr_in6&>(src);
  auto& d6 = reinterpret_cast<sockaddr_in6&>(dst);
  s6.sin6_family = d6.sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
  ::inet_pton(AF_INET6, "::1", &d6.sin6_addr);
  s6.sin6_port = htons(40000);
  d6.sin6_port = htons(443);
  char out[proxy::kProxyHeaderMax];
  std::span<char, proxy::kProxyHeaderMax> o(out);
  std::size_t n = proxy::write_proxy_header(proxy::ProxyHeader::V1, src, dst, o);
  EXPECT_EQ(std::string(out, n), "PROXY TCP6 2001:db8::1 ::1 40000 443\r\n");
  n = proxy::write_proxy_header(proxy::ProxyHeader::V2, src, dst, o);
  ASSERT_EQ(n, 16u + 36u);
  EXPECT_EQ(static_cast<unsigned char>(out[13]), 0x21);  // TCP over IPv6
  EXPECT_EQ(static_cast<unsigned char>(out[15]), 36);
  EXPECT_EQ(0, std::memcmp(out + 16, &s6.sin6_addr, 16));
  EXPECT_EQ(static_cast<unsigned char>(out[48]), 40000 >> 8);
  sockaddr_storage unix_src{};
  unix_src.ss_family = AF_UNIX;
  n = proxy::write_proxy_header(proxy::ProxyHeader::V1, unix_src, dst, o);
  EXPECT_EQ(std::string(out, n), "PROXY UNKNOWN\r\n");
  n = proxy::write_proxy_header(proxy::ProxyHeader::V2, unix_src, dst, o);
  ASSERT_EQ(n, 16u);
  EXPECT_EQ(out[13], 0x00);
  EXPECT_EQ(out[14], 0);
  EXPECT_EQ(out[15], 0);
}

}  // namespace
}  // namespace zcnet::test

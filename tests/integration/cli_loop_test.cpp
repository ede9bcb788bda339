// The zcnet command on the event loop: one `zcnet recv` serving many senders at once, `zcnet send
// --connections N` byte-exact, raw senders, senders that die, and SIGTERM, on epoll and io_uring.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_process.hpp"
#include "support.hpp"
#include "zcnet/loop/loop.hpp"

namespace zcnet {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::cli;
using test::read_all;
using test::read_port;
using test::spawn;
using test::TempFile;
using test::wait_exit;

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

// The hello of tools/wire.hpp, spelled out here as the specification: "ZCNET\x01", version 1
// (u16), offset (u64), length (u64), all little-endian.
std::string hello(std::uint64_t offset, std::uint64_t length) {
  std::string h("ZCNET\x01", 6);
  auto le = [&](std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) h += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  le(1, 2);
  le(offset, 8);
  le(length, 8);
  return h;
}

void write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    ASSERT_GT(w, 0) << "send: " << errno;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

std::string file_bytes(const TempFile& f) {
  std::string s(f.size(), '\0');
  EXPECT_EQ(::pread(f.fd(), s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
  return s;
}

// Waits until the file at `path` holds at least `n` bytes (recv has accepted and is writing).
bool wait_for_size(const std::string& path, std::uint64_t n, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  struct stat st {};
  while (std::chrono::steady_clock::now() < until) {
    if (::stat(path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= n) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class CliLoop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !uring_backend_available())
      GTEST_SKIP() << "io_uring backend not available here";
  }

 public:
  const std::string& backend() const { return GetParam(); }
  Child start_recv(std::vector<std::string> extra, int& port) {
    std::vector<std::string> args{cli(),    "recv",      "--listen", "127.0.0.1:0",
                                  "--json", "--backend", backend()};
    args.insert(args.end(), extra.begin(), extra.end());
    Child rx = spawn(args);
    port = read_port(rx.err.get());
    return rx;
  }
  std::string to(int port) const { return "127.0.0.1:" + std::to_string(port); }
};

INSTANTIATE_TEST_SUITE_P(Backends, CliLoop,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         [](const auto& p) { return p.param; });

void send_with_4_connections(CliLoop& t, std::size_t size) {
  TempFile src = TempFile::with_pattern(size, 3);
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = t.start_recv({"--out", out.path(), "--count", "4"}, port);
  ASSERT_GT(port, 0);
  Child tx = spawn({cli(), "send", src.path(), "--to", t.to(port), "--connections", "4", "--json",
                    "--backend", t.backend()});
  std::string tx_out = read_all(tx.out.get());
  ASSERT_EQ(wait_exit(tx.pid), 0) << read_all(tx.err.get());
  std::string rx_out = read_all(rx.out.get());
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());

  auto sent = nlohmann::json::parse(tx_out);
  EXPECT_EQ(sent["bytes"], size);
  EXPECT_EQ(sent["connections"], 4);
  EXPECT_EQ(sent["backend"], t.backend());
  for (const char* key :
       {"seconds", "bytes_per_second", "strategy", "reason", "syscalls", "bytes_copied_user",
        "zc_completions", "zc_copied", "fallbacks", "cpu_user_seconds", "cpu_system_seconds",
        "cpu_seconds_per_gib", "voluntary_context_switches", "involuntary_context_switches"})
    EXPECT_TRUE(sent.contains(key)) << key;
  auto got = json_lines(rx_out);
  ASSERT_EQ(got.size(), 4u) << rx_out;
  std::uint64_t total = 0;
  for (auto& j : got) {
    EXPECT_TRUE(j["hello"].get<bool>());
    EXPECT_EQ(j["backend"], t.backend());
    total += j["bytes"].get<std::uint64_t>();
  }
  EXPECT_EQ(total, size);
  EXPECT_EQ(out.size(), size);
  EXPECT_EQ(out.hash(), src.hash());
}

TEST_P(CliLoop, Send4Connections_EmptyFile_IsByteExact) {
  send_with_4_connections(*this, 0);
}
TEST_P(CliLoop, Send4Connections_OneByte_IsByteExact) {
  send_with_4_connections(*this, 1);
}
TEST_P(CliLoop, Send4Connections_5MiBPlus3_IsByteExact) {
  send_with_4_connections(*this, (5 << 20) + 3);
}

TEST_P(CliLoop, Recv_Serves8ConcurrentSenders_EachCounted) {
  constexpr int kSenders = 8;
  std::vector<TempFile> files;
  for (int i = 0; i < kSenders; ++i)
    files.push_back(TempFile::with_pattern((1 << 20) + static_cast<std::size_t>(i) * 4099, i));
  int port = 0;
  Child rx = start_recv({"--count", std::to_string(kSenders)}, port);
  ASSERT_GT(port, 0);
  std::vector<Child> senders;
  for (auto& f : files)
    senders.push_back(
        spawn({cli(), "send", f.path(), "--to", to(port), "--json", "--backend", backend()}));
  std::multiset<std::uint64_t> want, sent, received;
  for (std::size_t i = 0; i < senders.size(); ++i) {
    std::string out = read_all(senders[i].out.get());
    ASSERT_EQ(wait_exit(senders[i].pid), 0) << read_all(senders[i].err.get());
    sent.insert(nlohmann::json::parse(out)["bytes"].get<std::uint64_t>());
    want.insert(files[i].size());
  }
  std::string rx_out = read_all(rx.out.get());
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());
  for (auto& j : json_lines(rx_out)) {
    EXPECT_FALSE(j.contains("error")) << j.dump();
    EXPECT_EQ(j["strategy"], "read-write");  // no --out: read and discard
    received.insert(j["bytes"].get<std::uint64_t>());
  }
  EXPECT_EQ(sent, want);
  EXPECT_EQ(received, want);
}

TEST_P(CliLoop, RawSender_NoHello_IsWrittenFromOffsetZero) {
  TempFile src = TempFile::with_pattern((1 << 20) + 17, 5);
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = start_recv({"--out", out.path()}, port);
  ASSERT_GT(port, 0);
  {
    UniqueFd s = test::connect_loopback(static_cast<std::uint16_t>(port));
    std::string bytes = file_bytes(src);
    write_all(s.get(), bytes.data(), bytes.size());
    ::shutdown(s.get(), SHUT_WR);
    char c;
    while (::read(s.get(), &c, 1) > 0) {
    }
  }
  std::string rx_out = read_all(rx.out.get());
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());
  auto got = nlohmann::json::parse(rx_out);
  EXPECT_FALSE(got["hello"].get<bool>());
  EXPECT_EQ(got["bytes"], src.size());
  EXPECT_EQ(out.hash(), src.hash());
}

TEST_P(CliLoop, RawSender_ShorterThanAHello_IsKept) {
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = start_recv({"--out", out.path()}, port);
  ASSERT_GT(port, 0);
  {
    UniqueFd s = test::connect_loopback(static_cast<std::uint16_t>(port));
    write_all(s.get(), "ZCN", 3);  // a prefix of the magic, then EOF: raw
  }
  std::string rx_out = read_all(rx.out.get());
  ASSERT_EQ(wait_exit(rx.pid), 0) << read_all(rx.err.get());
  EXPECT_EQ(nlohmann::json::parse(rx_out)["bytes"], 3);
  EXPECT_EQ(file_bytes(out), "ZCN");
}

TEST_P(CliLoop, SenderStopsShort_RecvReportsIt_AndServesTheOthers) {
  TempFile src = TempFile::with_pattern((2 << 20) + 5, 9);
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = start_recv({"--out", out.path(), "--count", "2"}, port);
  ASSERT_GT(port, 0);
  // A sender that announces 1 MiB beyond the real file, gives 1000 bytes and dies.
  UniqueFd broken = test::connect_loopback(static_cast<std::uint16_t>(port));
  std::string h = hello(64 << 20, 1 << 20) + std::string(1000, 'x');
  write_all(broken.get(), h.data(), h.size());
  Child tx = spawn({cli(), "send", src.path(), "--to", to(port), "--backend", backend()});
  ASSERT_EQ(wait_exit(tx.pid), 0) << read_all(tx.err.get());
  broken.reset();
  std::string rx_out = read_all(rx.out.get());
  std::string rx_err = read_all(rx.err.get());
  EXPECT_EQ(wait_exit(rx.pid), 1) << "--count ended with a failed connection";
  EXPECT_NE(rx_err.find("1000 of the 1048576 B its hello announced"), std::string::npos) << rx_err;
  EXPECT_NE(rx_err.find("ENODATA"), std::string::npos) << rx_err;
  int ok = 0, failed = 0;
  for (auto& j : json_lines(rx_out)) {
    if (j.contains("error")) {
      ++failed;
      EXPECT_EQ(j["bytes"], 1000);
    } else {
      ++ok;
      EXPECT_EQ(j["bytes"], src.size());
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(out.hash(0, src.size()), src.hash());
}

TEST_P(CliLoop, SenderKilledMidway_RecvReportsIt_AndKeepsServing) {
  TempFile big = TempFile::with_pattern(64 << 20, 11);
  TempFile small = TempFile::with_pattern(100'000, 12);
  int port = 0;
  Child rx = start_recv({"--count", "2"}, port);
  ASSERT_GT(port, 0);
  // recv frozen: the kernel still completes the handshake, the sender fills the socket buffers
  // (a few MiB of the 64) and blocks, so it dies midway, whatever the machine's speed.
  ::kill(rx.pid, SIGSTOP);
  Child doomed = spawn({cli(), "send", big.path(), "--to", to(port), "--backend", backend()});
  std::this_thread::sleep_for(300ms);
  ::kill(doomed.pid, SIGKILL);
  EXPECT_EQ(wait_exit(doomed.pid), 128 + SIGKILL);
  ::kill(rx.pid, SIGCONT);
  Child tx = spawn({cli(), "send", small.path(), "--to", to(port), "--backend", backend()});
  ASSERT_EQ(wait_exit(tx.pid), 0) << read_all(tx.err.get());
  auto code = test::wait_exit_within(rx.pid, 20s);
  ASSERT_TRUE(code.has_value()) << "recv hung";
  EXPECT_EQ(*code, 1) << "--count ended with a failed connection";
  std::string rx_err = read_all(rx.err.get());
  EXPECT_NE(rx_err.find("of the 67108864 B its hello announced"), std::string::npos) << rx_err;
  auto lines = json_lines(read_all(rx.out.get()));
  ASSERT_EQ(lines.size(), 2u);
  int good = 0, failed = 0;
  for (auto& j : lines) {
    if (j.contains("error")) {
      ++failed;
      EXPECT_NE(j["error"].get<std::string>().find("peer 127.0.0.1:"), std::string::npos);
      EXPECT_LT(j["bytes"].get<std::uint64_t>(), big.size());
    } else if (j["bytes"] == small.size()) {
      ++good;
    }
  }
  EXPECT_EQ(good, 1);
  EXPECT_EQ(failed, 1);
}

TEST_P(CliLoop, Sigterm_TransferInFlight_FinishesAndExitsZero) {
  TempFile src = TempFile::with_pattern((3 << 20) + 1, 21);
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = start_recv({"--out", out.path(), "--count", "0"}, port);
  ASSERT_GT(port, 0);
  UniqueFd s = test::connect_loopback(static_cast<std::uint16_t>(port));
  std::string bytes = file_bytes(src);
  std::string h = hello(0, bytes.size());
  write_all(s.get(), h.data(), h.size());
  const std::size_t half = bytes.size() / 2;
  write_all(s.get(), bytes.data(), half);
  ASSERT_TRUE(wait_for_size(out.path(), half, 10s));
  ::kill(rx.pid, SIGTERM);
  std::this_thread::sleep_for(100ms);
  write_all(s.get(), bytes.data() + half, bytes.size() - half);
  ::shutdown(s.get(), SHUT_WR);
  char c;
  while (::read(s.get(), &c, 1) > 0) {
  }
  auto code = test::wait_exit_within(rx.pid, 10s);
  ASSERT_TRUE(code.has_value()) << "recv did not exit";
  EXPECT_EQ(*code, 0) << read_all(rx.err.get());
  auto got = nlohmann::json::parse(read_all(rx.out.get()));
  EXPECT_EQ(got["bytes"], src.size());
  EXPECT_EQ(out.hash(), src.hash());
}

TEST_P(CliLoop, Sigterm_StalledTransfer_IsCancelledAfterTheGrace) {
  TempFile out = TempFile::empty();
  int port = 0;
  Child rx = start_recv({"--out", out.path(), "--count", "0", "--grace", "1"}, port);
  ASSERT_GT(port, 0);
  UniqueFd s = test::connect_loopback(static_cast<std::uint16_t>(port));
  std::string h = hello(0, 1 << 20) + std::string(4096, 'y');  // then silence
  write_all(s.get(), h.data(), h.size());
  ASSERT_TRUE(wait_for_size(out.path(), 4096, 10s));
  auto t0 = std::chrono::steady_clock::now();
  ::kill(rx.pid, SIGTERM);
  auto code = test::wait_exit_within(rx.pid, 6s);
  ASSERT_TRUE(code.has_value()) << "recv ignored its --grace deadline";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  EXPECT_EQ(*code, 0) << "a signal's shutdown is a clean exit";
  std::string err = read_all(rx.err.get());
  EXPECT_NE(err.find("ECANCELED"), std::string::npos) << err;
  EXPECT_NE(err.find("shutdown deadline"), std::string::npos) << err;
}

TEST(CliLoopBackend, EnvironmentChoosesTheBackend_AndTheFlagWins) {
#ifdef ZCNET_PORTABLE
  GTEST_SKIP() << "the portable build has no epoll backend to choose";
#endif
  TempFile src = TempFile::with_pattern(1000);
  ::setenv("ZCNET_BACKEND", "epoll", 1);
  Child rx = spawn({cli(), "recv", "--listen", "127.0.0.1:0", "--json", "--count", "2"});
  int port = read_port(rx.err.get());
  ASSERT_GT(port, 0);
  Child env_tx =
      spawn({cli(), "send", src.path(), "--to", "127.0.0.1:" + std::to_string(port), "--json"});
  Child flag_tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:" + std::to_string(port),
                         "--json", "--backend", "poll"});
  ::unsetenv("ZCNET_BACKEND");
  auto env_sent = nlohmann::json::parse(read_all(env_tx.out.get()));
  auto flag_sent = nlohmann::json::parse(read_all(flag_tx.out.get()));
  EXPECT_EQ(wait_exit(env_tx.pid), 0);
  EXPECT_EQ(wait_exit(flag_tx.pid), 0);
  EXPECT_EQ(wait_exit(rx.pid), 0);
  EXPECT_EQ(env_sent["backend"], "epoll");
  EXPECT_EQ(flag_sent["backend"], "poll");
  for (auto& j : json_lines(read_all(rx.out.get()))) EXPECT_EQ(j["backend"], "epoll");
}

TEST(CliLoopBackend, UnknownBackend_IsRejected) {
  TempFile src = TempFile::with_pattern(10);
  Child tx = spawn({cli(), "send", src.path(), "--to", "127.0.0.1:1", "--backend", "kqueue"});
  std::string err = read_all(tx.err.get());
  EXPECT_NE(wait_exit(tx.pid), 0);
  EXPECT_NE(err.find("kqueue"), std::string::npos) << err;
}

}  // namespace
}  // namespace zcnet

// EMFILE on accept: the loop pauses accepting (no busy loop), keeps serving, logs one line, and
// resumes once descriptors are available again.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_test_support.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

class EmfileTest : public LoopTest {};
ZCNET_LOOP_TEST_SUITE(EmfileTest);

// Lowers the soft RLIMIT_NOFILE for its lifetime.
class SoftNofile {
 public:
  explicit SoftNofile(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit r = saved_;
    r.rlim_cur = soft;
    ok_ = ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  }
  ~SoftNofile() { restore(); }
  void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

int lowest_free_fd() {
  int fd = ::dup(0);
  ::close(fd);
  return fd;
}

TEST_P(EmfileTest, Accept_Emfile_PausesLogsOnceAndResumes) {
  LoopOptions o;
  o.accept_pause = 50ms;
  auto loop = make_loop(o);
  auto listener = listen_tcp("127.0.0.1", 0).value();
  auto addr = loopback(local_port(listener.get()).value());
  constexpr int kClients = 6;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  testing::internal::CaptureStderr();

  std::vector<UniqueFd> accepted;
  std::uint64_t waits_while_paused = 0;
  {
    SoftNofile limit(static_cast<rlim_t>(lowest_free_fd() + 2));  // room for two accepts
    ASSERT_TRUE(limit.ok());
    for (auto& c : clients) (void)::connect(c.get(), as_sockaddr(addr), sizeof addr);
    loop->block_on([&](Loop& l) -> Task<void> {
      CancelSource stop;
      l.spawn([](Loop& lp, int lfd, std::vector<UniqueFd>& out, CancelToken t) -> Task<void> {
        for (;;) {
          const IoOptions io(t);  // named: no temporaries inside co_await
          auto c = co_await lp.accept(lfd, io);
          if (!c) co_return;
          out.push_back(std::move(*c));
        }
      }(l, listener.get(), accepted, stop.token()));
      while (accepted.size() < 2) (void)co_await l.sleep_for(5ms);
      (void)co_await l.sleep_for(100ms);  // accept hits EMFILE and pauses
      EXPECT_EQ(accepted.size(), 2u);
      auto before = l.stats().waits;
      (void)co_await l.sleep_for(300ms);  // paused: a few waits, not a spin
      waits_while_paused = l.stats().waits - before;
      limit.restore();
      for (int i = 0; i < 400 && accepted.size() < kClients; ++i) (void)co_await l.sleep_for(5ms);
      stop.cancel();
    }(*loop));
  }
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(accepted.size(), static_cast<std::size_t>(kClients));
  EXPECT_LT(waits_while_paused, 100u) << "accept must not busy-loop on EMFILE";
  auto first = log.find("EMFILE");
  EXPECT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("EMFILE", first + 1), std::string::npos) << "one line per episode: " << log;
  for (auto& a : accepted) loop->close(std::move(a));
  loop->close(std::move(listener));
}

}  // namespace
}  // namespace zcnet::test

// Backend choice: an explicit option wins, then $ZCNET_BACKEND, then the io_uring probe.
#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "loop_test_support.hpp"

namespace zcnet::test {
namespace {

class EnvGuard {
 public:
  explicit EnvGuard(const char* value) {
    if (const char* old = std::getenv("ZCNET_BACKEND")) saved_ = old;
    ::setenv("ZCNET_BACKEND", value, 1);
  }
  ~EnvGuard() {
    if (saved_.empty())
      ::unsetenv("ZCNET_BACKEND");
    else
      ::setenv("ZCNET_BACKEND", saved_.c_str(), 1);
  }

 private:
  std::string saved_;
};

TEST(BackendSelect, Env_ForcesBackendWhenOptionIsAuto) {
  for (BackendKind k : loop_backends()) {
    if (k == BackendKind::Uring && !uring_backend_available()) continue;
    EnvGuard env(std::string(to_string(k)).c_str());
    auto loop = Loop::create();
    ASSERT_TRUE(loop) << loop.error().message();
    EXPECT_EQ((*loop)->backend(), k);
  }
}

TEST(BackendSelect, Option_WinsOverEnv) {
  EnvGuard env("uring");
  LoopOptions o;
  o.backend = loop_backends().back();
  auto loop = Loop::create(o);
  ASSERT_TRUE(loop);
  EXPECT_EQ((*loop)->backend(), o.backend);
}

TEST(BackendSelect, Auto_PicksUringWhenAvailable) {
  ::unsetenv("ZCNET_BACKEND");
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
#ifndef ZCNET_PORTABLE
  EXPECT_EQ((*loop)->backend(),
            uring_backend_available() ? BackendKind::Uring : BackendKind::Epoll);
#endif
}

TEST(BackendSelect, ParseBackend_KnowsEveryName) {
  EXPECT_EQ(parse_backend("epoll"), BackendKind::Epoll);
  EXPECT_EQ(parse_backend("uring"), BackendKind::Uring);
  EXPECT_EQ(parse_backend("io_uring"), BackendKind::Uring);
  EXPECT_EQ(parse_backend("poll"), BackendKind::Poll);
  EXPECT_EQ(parse_backend("auto"), BackendKind::Auto);
  EXPECT_FALSE(parse_backend("kqueue"));
}

TEST(Rlimit, RaiseNofile_SoftEqualsHardAfterLoopCreate) {
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  EXPECT_EQ(rl.rlim_cur, rl.rlim_max);
}

}  // namespace
}  // namespace zcnet::test

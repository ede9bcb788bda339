// Loop tests run once per backend: a parameterized fixture, skipping io_uring where the probe
// says it is unavailable.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "zcnet/loop/loop.hpp"

namespace zcnet::test {

inline std::vector<BackendKind> loop_backends() {
#ifdef ZCNET_PORTABLE
  return {BackendKind::Poll};
#else
  return {BackendKind::Epoll, BackendKind::Uring, BackendKind::Poll};
#endif
}

class LoopTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  std::unique_ptr<Loop> make_loop(LoopOptions o = {}) {
    o.backend = GetParam();
    auto loop = Loop::create(o);
    if (!loop) {
      ADD_FAILURE() << "Loop::create: " << loop.error().message();
      return nullptr;
    }
    EXPECT_EQ((*loop)->backend(), GetParam());
    return std::move(*loop);
  }
  void SetUp() override {
    if (GetParam() == BackendKind::Uring && !uring_backend_available())
      GTEST_SKIP() << "io_uring not available here";
  }
  // The poll() reactor is the portable floor: thousands of fds per poll() are not its job.
  void skip_if_poll(const char* why) {
    if (GetParam() == BackendKind::Poll) GTEST_SKIP() << why;
  }
};

inline std::string backend_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return std::string(to_string(info.param));
}

#define ZCNET_LOOP_TEST_SUITE(suite)                                                           \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::ValuesIn(zcnet::test::loop_backends()), \
                           zcnet::test::backend_name)

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline const sockaddr* as_sockaddr(const sockaddr_in& a) {
  return reinterpret_cast<const sockaddr*>(&a);
}

inline std::pair<UniqueFd, UniqueFd> unix_pair_nonblocking() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return {};
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

inline int count_open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
    n -= 3;  // ".", ".." and the DIR's own fd
  }
  return n;
}

}  // namespace zcnet::test

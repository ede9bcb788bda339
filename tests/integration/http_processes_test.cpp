// zcnet serve --processes N: a master and N worker processes on one port. Every request is
// answered byte-exact whichever process takes it; a worker that dies is restarted and the port
// keeps answering; SIGHUP reaches every worker; SIGTERM ends them all and the master exits 0.
#include <dirent.h>
#include <signal.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <thread>

#include "http_fixture.hpp"

namespace zcnet::test {
namespace {

using namespace std::chrono_literals;

// The pids whose parent is `parent` (from /proc/<pid>/stat).
std::set<pid_t> children_of(pid_t parent) {
  std::set<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto close = line.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent &&
        state != 'Z')
      out.insert(pid);
  }
  ::closedir(d);
  return out;
}

std::set<pid_t> wait_for_children(pid_t parent, std::size_t n) {
  std::set<pid_t> kids;
  for (int i = 0; i < 200; ++i) {
    kids = children_of(parent);
    if (kids.size() == n) break;
    std::this_thread::sleep_for(20ms);
  }
  return kids;
}

class HttpProcesses : public HttpServeTest {
 protected:
  // `n` requests, each on its own connection, each answered 200 with the file's exact bytes.
  void expect_answers(int n) {
    const std::string want = "hello, world\n";
    for (int i = 0; i < n; ++i) {
      auto c = client();
      auto r = c.request("/hello.txt");
      ASSERT_TRUE(r) << server_->log();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, want);
    }
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, HttpProcesses,
                         ::testing::Values(zcnet::test::kReactorBackend, "uring"),
                         backend_param_name);

TEST_P(HttpProcesses, ThreeWorkers_AnswerRestartReloadAndStop) {
  start({"--processes", "3"});
  ASSERT_TRUE(server_->wait_for_log("(3 worker processes)")) << server_->log();
  auto kids = wait_for_children(server_->pid(), 3);
  ASSERT_EQ(kids.size(), 3u) << server_->log();
  expect_answers(30);

  // One worker dies: the master starts another, and the port answers throughout.
  const pid_t victim = *kids.begin();
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(server_->wait_for_log("restarting it")) << server_->log();
  expect_answers(10);
  auto after = wait_for_children(server_->pid(), 3);
  EXPECT_EQ(after.size(), 3u) << server_->log();
  EXPECT_EQ(after.count(victim), 0u);

  // SIGHUP reaches every worker: each reloads.
  server_->signal(SIGHUP);
  EXPECT_TRUE(server_->wait_for_log("reloaded (generation 1)", 3)) << server_->log();
  expect_answers(5);

  const auto last = wait_for_children(server_->pid(), 3);
  EXPECT_EQ(server_->terminate(), 0) << server_->log();
  for (const pid_t pid : last)  // every worker ended with the master, none left reparented
    EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << "worker " << pid << " still runs";
}

TEST_P(HttpProcesses, MetricsNeedOneProcess) {
  try {
    ServeProcess bad(root_, {"--processes", "2", "--metrics", "127.0.0.1:0"});
    ADD_FAILURE() << "started: " << bad.log();
  } catch (const std::runtime_error& e) {  // it exits at once, saying why
    EXPECT_NE(std::string(e.what()).find("--metrics needs --processes 1"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace zcnet::test

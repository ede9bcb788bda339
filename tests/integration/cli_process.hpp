// Running the `zcnet` command from a test: spawn it with its stdout and stderr on pipes, read
// them, wait for it. ZCNET_CLI names the binary (ctest sets it; default: `zcnet` on PATH).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

extern char** environ;

namespace zcnet::test {

inline const char* cli() {
  const char* p = std::getenv("ZCNET_CLI");
  return p ? p : "zcnet";
}

struct Child {
  pid_t pid = -1;
  UniqueFd out, err;
};

// Starts args[0] with the test's environment, plus `extra_env` ("NAME=value" entries).
inline Child spawn(const std::vector<std::string>& args,
                   const std::vector<std::string>& extra_env = {}) {
  auto [out_r, out_w] = make_pipe();
  auto [err_r, err_w] = make_pipe();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Child c;
  int rc = posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "cannot start " << args[0];
  c.out = std::move(out_r);
  c.err = std::move(err_r);
  return c;
}

// Everything `fd` gives until EOF (the child closed it, usually by exiting).
inline std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    s.append(buf, static_cast<std::size_t>(n));
  return s;
}

// Exit status, or 128 + the signal that ended it.
inline int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return exit_code(status);
}

// The exit code if `pid` ends within `limit`; nullopt (and the child killed) if not.
inline std::optional<int> wait_exit_within(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return exit_code(status);
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// promtool (Debian's prometheus package): scripts/setup.sh extracts it into build/tools, next to
// the build directory that holds ZCNET_CLI; else the one on PATH. Empty if there is none.
inline std::string promtool() {
  namespace fs = std::filesystem;
  const fs::path built = fs::path(cli()).parent_path().parent_path() / "tools" / "promtool";
  if (::access(built.c_str(), X_OK) == 0) return built.string();
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    const std::string p = std::string(dir) + "/promtool";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// `promtool check metrics` over `exposition` (on its stdin): its exit code and what it said.
struct Checked {
  std::optional<int> code;
  std::string said;
};
inline Checked promtool_check_metrics(const std::string& tool, const std::string& exposition) {
  const std::string path =
      std::string(::testing::TempDir()) + "exposition-" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << exposition;
  Child c = spawn({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", tool, path});
  Checked r;
  r.code = wait_exit_within(c.pid, std::chrono::seconds(30));
  r.said = read_all(c.out.get()) + read_all(c.err.get());
  ::unlink(path.c_str());
  return r;
}

// Reads recv's "listening on port N" line from its stderr.
inline int read_port(int err_fd) {
  std::string line;
  char ch;
  while (::read(err_fd, &ch, 1) == 1 && ch != '\n') line += ch;
  auto pos = line.rfind(' ');
  return pos == std::string::npos ? -1 : std::atoi(line.c_str() + pos + 1);
}

}  // namespace zcnet::test

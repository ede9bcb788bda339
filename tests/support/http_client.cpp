#include "http_client.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support.hpp"

extern char** environ;

namespace zcnet::test {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

bool HttpResponse::has(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return true;
  return false;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return {};
}

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout, int rcvbuf) {
  fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (rcvbuf > 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (int err = connect_blocking(fd_.get(), a); err != 0)
    throw std::runtime_error(std::string("connect: ") + std::strerror(err));
}

bool HttpClient::send(std::string_view raw) {
  while (!raw.empty()) {
    ssize_t w = ::send(fd_.get(), raw.data(), raw.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    raw.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

ssize_t HttpClient::recv_some(void* out, std::size_t n, int flags) {
  for (;;) {
    ssize_t r = ::recv(fd_.get(), out, n, flags);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

bool HttpClient::fill() {
  char tmp[64 * 1024];
  for (;;) {
    ssize_t r = ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(r));
    return true;
  }
}

std::optional<HttpResponse> HttpClient::read_response(bool no_body) {
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  HttpResponse resp;
  std::istringstream head(buf_.substr(0, end + 2));
  std::string line;
  std::getline(head, line);
  if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
  resp.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto colon = line.find(':');
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    resp.headers.emplace_back(line.substr(0, colon), value);
  }
  buf_.erase(0, end + 4);
  if (no_body || resp.status == 304 || resp.status / 100 == 1 || resp.status == 204) return resp;
  if (!resp.has("Content-Length")) {
    while (fill()) {
    }
    resp.body = std::move(buf_);
    buf_.clear();
    return resp;
  }
  const auto len = std::stoull(resp.header("Content-Length"));
  while (buf_.size() < len)
    if (!fill()) return std::nullopt;
  resp.body = buf_.substr(0, len);
  buf_.erase(0, len);
  return resp;
}

std::optional<HttpResponse> HttpClient::request(std::string_view target, std::string_view extra,
                                                std::string_view method) {
  std::string req = std::string(method) + " " + std::string(target) +
                    " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
  if (!send(req)) return std::nullopt;
  return read_response(method == "HEAD");
}

bool HttpClient::closed_within(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  buf_.clear();
  while (std::chrono::steady_clock::now() < deadline) {
    char tmp[4096];
    ssize_t r = ::recv(fd_.get(), tmp, sizeof tmp, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return true;
    if (r < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::uint64_t HttpClient::drain() {
  std::uint64_t n = buf_.size();
  buf_.clear();
  while (fill()) {
    n += buf_.size();
    buf_.clear();
  }
  return n;
}

void HttpClient::reset() {
  linger l{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd_.reset();
}

ServeProcess::ServeProcess(const std::string& root, const std::vector<std::string>& args) {
  const char* cli = std::getenv("ZCNET_CLI");
  if (!cli) throw std::runtime_error("ZCNET_CLI is not set (run through ctest)");
  char tmpl[] = "/tmp/zcnet-serve-err-XXXXXX";
  UniqueFd err(::mkstemp(tmpl));
  err_path_ = tmpl;
  std::vector<std::string> all{cli, "serve", "--listen", "127.0.0.1:0"};
  if (!root.empty()) all.insert(all.end(), {"--root", root});
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, err.get(), 2);
  int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = log();
    auto at = text.find("listening on port ");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::atoi(text.c_str() + at + 18));
      return;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("zcnet serve exited early: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("zcnet serve did not announce its port: " + log());
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  ::unlink(err_path_.c_str());
}

int ServeProcess::terminate(std::chrono::milliseconds wait) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -2;  // still running: the destructor kills it
}

void ServeProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool ServeProcess::wait_for_log(std::string_view text, int times,
                                std::chrono::milliseconds wait) const {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const std::string all = log();
    int seen = 0;
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++seen;
    if (seen >= times) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string ServeProcess::log() const {
  std::ifstream in(err_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace zcnet::test

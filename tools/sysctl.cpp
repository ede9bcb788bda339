#include "sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "zcnet/sys/fd.hpp"

namespace zcnet::cli {

const std::string& proc_root() {
  static const std::string root = [] {
    const char* r = std::getenv("ZCNET_PROC_ROOT");
    return std::string(r ? r : "");
  }();
  return root;
}

std::string proc_path(std::string_view path) {
  return proc_root() + std::string(path);
}

std::string sysctl_path(std::string_view name) {
  std::string rel(name);
  std::replace(rel.begin(), rel.end(), '.', '/');
  return proc_path("/proc/sys/" + rel);
}

Result<std::string> read_proc_line(std::string_view path) {
  const std::string p(path);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return last_error("open", p);
  char buf[4096];  // every file read here is one short line
  ssize_t n;
  do n = ::read(fd.get(), buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) return last_error("read", p);
  std::string_view text(buf, static_cast<std::size_t>(n));
  return std::string(text.substr(0, text.find('\n')));
}

Result<std::vector<std::int64_t>> read_sysctl_numbers(std::string_view name) {
  const std::string path = sysctl_path(name);
  auto line = read_proc_line(path);
  if (!line) return std::move(line).error();
  std::vector<std::int64_t> numbers;
  const char* p = line->data();
  const char* end = p + line->size();
  while (true) {
    while (p != end && (*p == ' ' || *p == '\t')) ++p;
    if (p == end) break;
    std::int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{}) return Error(EINVAL, "parse", path + ": not a list of integers");
    numbers.push_back(v);
    p = next;
  }
  if (numbers.empty()) return Error(EINVAL, "parse", path + ": empty");
  return numbers;
}

nlohmann::json sysctl_json(std::string_view name) {
  auto numbers = read_sysctl_numbers(name);
  if (!numbers) return nullptr;
  if (numbers->size() == 1) return numbers->front();
  return *numbers;
}

}  // namespace zcnet::cli

#include "sysctl.hpp"

#include <algorithm>
#include <fstream>

namespace zcnet::cli {

std::string read_sysctl(std::string_view name) {
  std::string path = "/proc/sys/" + std::string(name);
  std::replace(path.begin() + 10, path.end(), '.', '/');
  std::ifstream in(path);
  std::string v;
  std::getline(in, v);
  return v.empty() ? "unavailable" : v;
}

}  // namespace zcnet::cli

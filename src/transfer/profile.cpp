#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "zcnet/transfer/selector.hpp"

namespace zcnet {

std::string Profile::default_path() {
  if (const char* p = std::getenv("ZCNET_PROFILE")) return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::string(x) + "/zcnet/profile.json";
  if (const char* h = std::getenv("HOME")) return std::string(h) + "/.config/zcnet/profile.json";
  return "zcnet-profile.json";
}

Result<Profile> Profile::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(errno ? errno : ENOENT, "load profile", path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Error(EINVAL, "load profile", path + ": not a JSON object");
  Profile p;
  auto read = [&](const char* key, std::uint64_t& field) {
    if (auto it = j.find(key); it != j.end() && it->is_number_unsigned()) field = *it;
  };
  read("local_sendfile_min_bytes", p.local_sendfile_min_bytes);
  read("local_sendfile_max_bytes", p.local_sendfile_max_bytes);
  read("local_mapped_max_bytes", p.local_mapped_max_bytes);
  read("local_mmap_min_bytes", p.local_mmap_min_bytes);
  read("remote_sendfile_min_bytes", p.remote_sendfile_min_bytes);
  read("zerocopy_min_bytes", p.zerocopy_min_bytes);
  read("server_local_sendfile_max_bytes", p.server_local_sendfile_max_bytes);
  return p;
}

Result<void> Profile::save(const std::string& path) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Error(errno ? errno : EACCES, "save profile", path);
  nlohmann::json j{{"local_sendfile_min_bytes", local_sendfile_min_bytes},
                   {"local_sendfile_max_bytes", local_sendfile_max_bytes},
                   {"local_mapped_max_bytes", local_mapped_max_bytes},
                   {"local_mmap_min_bytes", local_mmap_min_bytes},
                   {"remote_sendfile_min_bytes", remote_sendfile_min_bytes},
                   {"zerocopy_min_bytes", zerocopy_min_bytes},
                   {"server_local_sendfile_max_bytes", server_local_sendfile_max_bytes}};
  out << j.dump(2) << '\n';
  if (!out) return Error(EIO, "save profile", path);
  return {};
}

}  // namespace zcnet

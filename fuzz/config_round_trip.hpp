// The check both config fuzz targets make: a `--config` file with arbitrary contents is either
// refused with an error naming it (std::runtime_error), never a crash or another exception, or
// it means the same when the options in effect are written out as JSON (what the admin
// endpoint's GET /config shows) and read back.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "fuzz_check.hpp"

namespace zcnet::fuzz {

// Bytes as a file the config reader can open by name (an anonymous memory file).
class MemFile {
 public:
  explicit MemFile(const std::string& bytes) : fd_(::memfd_create("zcnet-fuzz", 0)) {
    FUZZ_CHECK(fd_ >= 0, "memfd_create");
    FUZZ_CHECK(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
               "write to the memory file");
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// `effective(line)` reads line.args.config into a setup; `shown(setup)` is its JSON.
template <class CommandLine, class Effective, class Shown>
void check_config_round_trip(const std::uint8_t* data, std::size_t size, Effective effective,
                             Shown shown) {
  const MemFile file(std::string(reinterpret_cast<const char*>(data), size));
  CommandLine line;
  line.args.config = file.path();
  nlohmann::json first;
  try {
    first = shown(effective(line));
  } catch (const std::runtime_error&) {
    return;  // refused with a message
  }
  first.erase("config");
  const MemFile again(first.dump());
  line.args.config = again.path();
  nlohmann::json second;
  try {
    second = shown(effective(line));
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "%s\n%s\n", first.dump().c_str(), e.what());
    FUZZ_CHECK(false, "the options in effect, written out, are taken again");
  }
  second.erase("config");
  FUZZ_CHECK(first == second, "the options in effect, written out, read back the same");
}

}  // namespace zcnet::fuzz

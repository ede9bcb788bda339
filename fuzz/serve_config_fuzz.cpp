// The `zcnet serve --config` file (tools/serve_config.hpp) with arbitrary contents. Properties:
// a file is either taken or refused with an error naming it (std::runtime_error), never a crash
// or another exception; and a file that is taken means the same when the options in effect are
// written out as JSON (what the admin endpoint's GET /config shows) and read back.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_check.hpp"
#include "serve_config.hpp"

namespace {

// The bytes as a file the config reader can open by name (an anonymous memory file).
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const MemFile file(std::string(reinterpret_cast<const char*>(data), size));
  zcnet::cli::ServeCommandLine line;
  line.args.config = file.path();
  zcnet::cli::ServeArgs args;
  try {
    args = zcnet::cli::effective_serve_args(line);
  } catch (const std::runtime_error&) {
    return 0;  // refused with a message
  }
  nlohmann::json shown = zcnet::cli::serve_args_json(args);
  shown.erase("config");
  const MemFile again_file(shown.dump());
  line.args.config = again_file.path();
  zcnet::cli::ServeArgs again;
  try {
    again = zcnet::cli::effective_serve_args(line);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "%s\n%s\n", shown.dump().c_str(), e.what());
    FUZZ_CHECK(false, "the options in effect, written out, are taken again");
  }
  nlohmann::json shown_again = zcnet::cli::serve_args_json(again);
  shown_again.erase("config");
  FUZZ_CHECK(shown == shown_again, "the options in effect, written out, read back the same");
  return 0;
}

// A document root with files of the sizes the tests need, and a `zcnet serve` on it per backend.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "support.hpp"
#include "zcnet/loop/loop.hpp"

namespace zcnet::test {

inline void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

inline std::uint64_t hash_of(const std::string& s) {
  return hash_bytes(s.data(), s.size());
}

class HttpServeTest : public ::testing::TestWithParam<std::string> {
 protected:
  static constexpr std::size_t kBig = 5 * 1024 * 1024;
  void SetUp() override {
    if (GetParam() == "uring" && !uring_backend_available())
      GTEST_SKIP() << "io_uring not available here";
    char tmpl[] = "/tmp/zcnet-http-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    namespace fs = std::filesystem;
    fs::create_directories(root_ + "/docs");
    fs::create_directories(root_ + "/empty-dir");
    for (std::size_t n :
         {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{65537}, kBig})
      write_file(root_ + "/f" + std::to_string(n) + ".bin", pattern(n, n + 1));
    write_file(root_ + "/docs/index.html", pattern(100, 3));
    std::ofstream(root_ + "/hello.txt") << "hello, world\n";
    std::ofstream(root_ + "/.secret") << "hidden\n";
    std::ofstream(base_ + "/outside.txt") << "outside the root\n";
    fs::create_symlink(base_ + "/outside.txt", root_ + "/escape-link");
  }
  void TearDown() override {
    server_.reset();
    if (!base_.empty()) std::filesystem::remove_all(base_);
  }
  ServeProcess& start(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--backend", GetParam(), "--workers", "2"});
    server_ = std::make_unique<ServeProcess>(root_, args);
    return *server_;
  }
  HttpClient client(int rcvbuf = 0) {
    return HttpClient(server_->port(), std::chrono::seconds(10), rcvbuf);
  }
  std::uint64_t file_hash(std::size_t n) {
    auto p = pattern(n, n + 1);
    return hash_bytes(p.data(), p.size());
  }

  std::string base_, root_;
  std::unique_ptr<ServeProcess> server_;
};

inline std::string backend_param_name(const ::testing::TestParamInfo<std::string>& i) {
  return i.param;
}

}  // namespace zcnet::test

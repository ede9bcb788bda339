// Every file -> socket strategy driven directly (no Transfer) at every size the issue names,
// byte-exact by hash at the receiver; mechanisms this kernel lacks skip.
#include <string>
#include <tuple>

#include "strategy_driver.hpp"
#include "zcnet/sys/capabilities.hpp"

namespace zcnet {
namespace {

using namespace zcnet::test;

constexpr StrategyKind kFileToSocketKinds[] = {StrategyKind::ReadWrite, StrategyKind::Mmap,
                                               StrategyKind::Sendfile, StrategyKind::Splice};

void skip_unless_supported(StrategyKind k) {
  if (!allows(Capabilities::probe(), k)) GTEST_SKIP() << to_string(k) << " not available here";
}

std::string kind_name(StrategyKind k) {
  std::string n(to_string(k));
  std::erase(n, '-');
  return n;
}

class FileToSocket : public ::testing::TestWithParam<std::tuple<StrategyKind, std::size_t>> {};

TEST_P(FileToSocket, DeliversEveryByteExactly) {
  const auto [kind, size] = GetParam();
  skip_unless_supported(kind);
  if (IsSkipped()) return;
  TempFile f = TempFile::with_pattern(size);
  Delivery d = file_to_socket(kind, f, FileRange{});
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, f.size());
  EXPECT_EQ(d.rx.hash, f.hash());
  EXPECT_EQ(d.stats.bytes, f.size());
  // Only read-write passes the bytes through a user-space buffer.
  EXPECT_EQ(d.stats.bytes_copied_user, kind == StrategyKind::ReadWrite ? f.size() : 0u);
}

INSTANTIATE_TEST_SUITE_P(KindsBySize, FileToSocket,
                         ::testing::Combine(::testing::ValuesIn(kFileToSocketKinds),
                                            ::testing::ValuesIn(sizes_to_check())),
                         [](const auto& p) {
                           return kind_name(std::get<0>(p.param)) + "_" +
                                  std::to_string(std::get<1>(p.param));
                         });

class FileToSocket256MiB : public ::testing::TestWithParam<StrategyKind> {};

TEST_P(FileToSocket256MiB, IsByteExact) {
  skip_unless_supported(GetParam());
  if (IsSkipped()) return;
  const TempFile& f = big_file();
  Delivery d = file_to_socket(GetParam(), f, FileRange{});
  ASSERT_TRUE(d.drive.ok()) << d.drive.error_text();
  EXPECT_EQ(d.rx.bytes, f.size());
  EXPECT_EQ(d.rx.hash, f.hash());
}

INSTANTIATE_TEST_SUITE_P(Kinds, FileToSocket256MiB, ::testing::ValuesIn(kFileToSocketKinds),
                         [](const auto& p) { return kind_name(p.param); });

}  // namespace
}  // namespace zcnet

// The mapping cache: one mapping per inode, reused, remapped when the file grows, bounded, and
// never unmapped while a transfer holds it.
#include "zcnet/pool/mapping_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "support.hpp"

namespace zcnet {
namespace {

using test::TempFile;

// What the kernel reads from the mapping, hashed: the bytes go through pwrite into a scratch file
// (the cache's invariant: user space never touches mapped bytes itself).
std::uint64_t kernel_hash(const MappedFile& m, std::uint64_t length) {
  TempFile out = TempFile::empty();
  EXPECT_EQ(::pwrite(out.fd(), m.data(), length, 0), static_cast<ssize_t>(length));
  return out.hash();
}

// Writes `n` pattern bytes at `offset` of `fd` (growing the file or rewriting it in place).
std::vector<std::byte> write_pattern(int fd, std::size_t n, std::uint64_t seed,
                                     std::uint64_t offset) {
  auto bytes = test::pattern(n, seed);
  EXPECT_EQ(::pwrite(fd, bytes.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  return bytes;
}

TEST(MappingCache, SameInodeTwice_MapsOnceThenHits) {
  TempFile f = TempFile::with_pattern(1 << 20);
  MappingCache cache;
  auto a = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(*a);
  UniqueFd again(::open(f.path().c_str(), O_RDONLY | O_CLOEXEC));  // another fd, same inode
  auto b = cache.acquire(again.get(), f.size());
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ((*a)->size(), f.size());
  EXPECT_EQ(kernel_hash(**a, f.size()), f.hash());
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().mapped_bytes, f.size());
}

TEST(MappingCache, FileGrownPastTheMapping_IsRemappedAndTheOldOneStaysValid) {
  TempFile f = TempFile::with_pattern(64 * 1024);
  MappingCache cache;
  auto old = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(old && *old);
  const std::uint64_t old_hash = f.hash();
  write_pattern(f.fd(), 100000, 7, f.size());
  auto grown = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(grown && *grown);
  EXPECT_NE(old->get(), grown->get());
  EXPECT_EQ((*grown)->size(), f.size());
  EXPECT_EQ(kernel_hash(**grown, f.size()), f.hash());
  EXPECT_EQ(kernel_hash(**old, 64 * 1024), old_hash);  // still mapped: a transfer holds it
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().mapped_bytes, f.size());
}

TEST(MappingCache, FileWrittenInPlace_IsSeenThroughTheSameMapping) {
  TempFile f = TempFile::with_pattern(256 * 1024);
  MappingCache cache;
  auto first = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(first && *first);
  const auto fresh = write_pattern(f.fd(), f.size(), 99, 0);
  auto second = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(kernel_hash(**second, f.size()), test::hash_bytes(fresh.data(), fresh.size()));
}

TEST(MappingCache, FileRenamedOver_GetsTheNewInodesMapping) {
  TempFile f = TempFile::with_pattern(128 * 1024, 1);
  TempFile g = TempFile::with_pattern(128 * 1024, 2);
  MappingCache cache;
  auto before = cache.acquire(f.fd(), f.size());
  ASSERT_TRUE(before && *before);
  ASSERT_EQ(std::rename(g.path().c_str(), f.path().c_str()), 0);
  UniqueFd now(::open(f.path().c_str(), O_RDONLY | O_CLOEXEC));
  auto after = cache.acquire(now.get(), 128 * 1024);
  ASSERT_TRUE(after && *after);
  EXPECT_NE(before->get(), after->get());
  EXPECT_EQ(kernel_hash(**after, 128 * 1024), g.hash());
}

TEST(MappingCache, FilesNotToCache_AreBypassed) {
  MappingCacheOptions o;
  o.max_file_bytes = 1 << 20;
  MappingCache cache(o);
  TempFile empty = TempFile::empty();
  TempFile big = TempFile::with_pattern((1 << 20) + 1);
  TempFile gone = TempFile::with_pattern(4096);
  ASSERT_EQ(::unlink(gone.path().c_str()), 0);  // deleted: its space must not stay pinned
  auto [r, w] = test::make_pipe();
  for (int fd : {empty.fd(), big.fd(), gone.fd(), r.get()}) {
    auto m = cache.acquire(fd, 4096);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_FALSE(*m) << "fd " << fd;
  }
  EXPECT_EQ(cache.stats().bypassed, 4u);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(MappingCache, MoreFilesThanEntries_DropsTheLeastRecentlyUsed) {
  MappingCacheOptions o;
  o.max_entries = 2;
  MappingCache cache(o);
  TempFile a = TempFile::with_pattern(4096, 1), b = TempFile::with_pattern(4096, 2),
           c = TempFile::with_pattern(4096, 3);
  for (const TempFile* f : {&a, &b, &a, &c}) ASSERT_TRUE(cache.acquire(f->fd(), 4096));
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  ASSERT_TRUE(cache.acquire(a.fd(), 4096));  // kept: used after b
  EXPECT_EQ(cache.stats().hits, 2u);
  ASSERT_TRUE(cache.acquire(b.fd(), 4096));  // dropped: mapped again
  EXPECT_EQ(cache.stats().misses, 4u);
}

TEST(MappingCache, TotalBytesBound_DropsOldMappingsToFitANewOne) {
  MappingCacheOptions o;
  o.max_total_bytes = 3 << 20;
  MappingCache cache(o);
  TempFile a = TempFile::with_pattern(2 << 20, 1), b = TempFile::with_pattern(2 << 20, 2);
  ASSERT_TRUE(cache.acquire(a.fd(), a.size()));
  ASSERT_TRUE(cache.acquire(b.fd(), b.size()));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().mapped_bytes, 2u << 20);
}

TEST(MappingCache, EntryEvictedWhileHeld_StaysMappedUntilReleased) {
  MappingCacheOptions o;
  o.max_entries = 1;
  MappingCache cache(o);
  TempFile a = TempFile::with_pattern(300000, 1), b = TempFile::with_pattern(300000, 2);
  auto held = cache.acquire(a.fd(), a.size());
  ASSERT_TRUE(held && *held);
  ASSERT_TRUE(cache.acquire(b.fd(), b.size()));
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(kernel_hash(**held, a.size()), a.hash());
}

TEST(MappingCache, IdleEntries_AreUnmappedAtTheNextLookup) {
  MappingCacheOptions o;
  o.idle = std::chrono::milliseconds(1);
  MappingCache cache(o);
  TempFile a = TempFile::with_pattern(4096, 1), b = TempFile::with_pattern(4096, 2);
  ASSERT_TRUE(cache.acquire(a.fd(), 4096));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(cache.acquire(b.fd(), 4096));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().evictions, 1u);
}

TEST(MappingCache, BadFd_IsATypedErrorNamingFstat) {
  MappingCache cache;
  auto m = cache.acquire(-1, 4096);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), EBADF);
  EXPECT_NE(m.error().message().find("fstat"), std::string::npos) << m.error().message();
}

TEST(MappingCache, NoEntries_TurnsTheCacheOff) {
  MappingCacheOptions o;
  o.max_entries = 0;
  MappingCache cache(o);
  TempFile f = TempFile::with_pattern(4096);
  auto m = cache.acquire(f.fd(), 4096);
  ASSERT_TRUE(m);
  EXPECT_FALSE(*m);
  EXPECT_EQ(cache.stats().misses, 0u);
}

}  // namespace
}  // namespace zcnet

// The hello `zcnet recv` reads in front of each connection (tools/wire.hpp), on arbitrary first
// bytes. Properties: a stream is taken as a hello only with the magic and all 24 bytes; a
// decoded hello encodes back to exactly the bytes it came from; and every prefix of a hello
// still "may be" one, so recv keeps reading instead of falling back to a raw stream too early.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.hpp"
#include "wire.hpp"

using namespace zcnet::cli;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  const auto hello = wire::decode(in);
  if (!hello) {
    FUZZ_CHECK(size < wire::kHelloSize || !wire::may_be_hello(in),
               "only a short or foreign stream is not a hello");
    return 0;
  }
  FUZZ_CHECK(size >= wire::kHelloSize, "a hello is 24 bytes");
  const wire::HelloBytes bytes = wire::encode(*hello);
  FUZZ_CHECK(std::memcmp(bytes.data(), data, wire::kHelloSize) == 0,
             "a decoded hello encodes to the same bytes");
  for (std::size_t n = 0; n <= wire::kHelloSize; ++n)
    FUZZ_CHECK(wire::may_be_hello(in.first(n)), "every prefix of a hello may be one");
  return 0;
}

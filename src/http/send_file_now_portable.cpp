#include <cerrno>

#include "http/small_body.hpp"

namespace zcnet::http {

SentNow send_file_now(int, std::span<const std::byte>, int, std::uint64_t, std::uint64_t) {
  SentNow s;
  s.error = Error(ENOSYS, "sendfile", "not on this platform");
  return s;
}

}  // namespace zcnet::http

#include "zcnet/sys/capabilities.hpp"

#include <cerrno>

namespace zcnet {

Capabilities Capabilities::portable() {
  Capabilities c;
  c.uring_setup_errno = ENOSYS;  // the portable build has no io_uring
  return c;
}

bool Capabilities::disable(std::string_view name) noexcept {
  if (name == "uring" || name == "io_uring") {
    io_uring = uring_send = uring_send_zc = uring_splice = uring_fixed_buffers = uring_loop = false;
  } else if (name == "sendfile") {
    sendfile = false;
  } else if (name == "splice") {
    splice = false;
  } else if (name == "tee") {
    tee = false;
  } else if (name == "msg-zerocopy") {
    msg_zerocopy = false;
  } else if (name == "uring-send") {
    uring_send = false;
  } else if (name == "uring-send-zc") {
    uring_send_zc = false;
  } else if (name == "uring-splice") {
    uring_splice = false;
  } else {
    return false;
  }
  return true;
}

std::string Capabilities::disable_list(std::string_view list) {
  std::string unknown;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (!name.empty() && !disable(name)) {
      if (!unknown.empty()) unknown += ',';
      unknown += name;
    }
  }
  return unknown;
}

}  // namespace zcnet

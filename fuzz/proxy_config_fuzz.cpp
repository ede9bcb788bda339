// The `zcnet proxy --config` file (tools/proxy_config.hpp) with arbitrary contents: refused with
// an error naming it, or read back the same from what GET /config shows (config_round_trip.hpp).
#include <cstddef>
#include <cstdint>

#include "config_round_trip.hpp"
#include "proxy_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace zcnet::cli;
  zcnet::fuzz::check_config_round_trip<ProxyCommandLine>(
      data, size, [](const ProxyCommandLine& l) { return effective_proxy_setup(l); },
      [](const ProxySetup& s) { return proxy_setup_json(s); });
  return 0;
}

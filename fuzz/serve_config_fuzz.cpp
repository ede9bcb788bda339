// The `zcnet serve --config` file (tools/serve_config.hpp) with arbitrary contents: refused with
// an error naming it, or read back the same from what GET /config shows (config_round_trip.hpp).
#include <cstddef>
#include <cstdint>

#include "config_round_trip.hpp"
#include "serve_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace zcnet::cli;
  zcnet::fuzz::check_config_round_trip<ServeCommandLine>(
      data, size, [](const ServeCommandLine& l) { return effective_serve_args(l); },
      [](const ServeArgs& a) { return serve_args_json(a); });
  return 0;
}

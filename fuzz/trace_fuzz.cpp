// The trace-context fields a client sends (W3C traceparent and tracestate) and the sampling
// spec an operator writes (--trace-sample), on arbitrary text. Properties:
// - a traceparent that parses is valid and formats to a value that parses to the same context;
// - a tracestate that parses is at most 512 characters and parses to itself again (what is
//   carried on is already in its normal form);
// - a sampling spec either parses or is refused with an error; neither crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "zcnet/observe/trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (const auto parent = zcnet::parse_traceparent(in)) {
    FUZZ_CHECK(parent->valid(), "a parsed traceparent has non-zero ids");
    const auto again = zcnet::parse_traceparent(zcnet::format_traceparent(*parent));
    FUZZ_CHECK(again && again->trace_id == parent->trace_id && again->span_id == parent->span_id &&
                   again->flags == parent->flags,
               "a formatted traceparent parses to the same context");
  }

  if (const auto state = zcnet::parse_tracestate(in)) {
    FUZZ_CHECK(state->size() <= 512, "a carried tracestate is at most 512 characters");
    const auto again = zcnet::parse_tracestate(*state);
    FUZZ_CHECK(again && *again == *state, "a carried tracestate is in normal form");
  }

  if (auto sampler = zcnet::Sampler::parse(in)) (void)sampler;
  if (auto policy = zcnet::TracePolicy::parse(in)) (void)policy;
  return 0;
}

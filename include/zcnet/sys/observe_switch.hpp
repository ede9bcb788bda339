// Whether this build counts anything: ZCNET_OBSERVE=0 (CMake option ZCNET_OBSERVE=OFF) compiles
// out the metric counters, the request-duration histogram, the syscall timers and tracing, so
// their cost can be measured against a build without them (bench/peers/trace_overhead.py).
#pragma once

#ifndef ZCNET_OBSERVE
#define ZCNET_OBSERVE 1
#endif

namespace zcnet {

inline constexpr bool kObserve = ZCNET_OBSERVE != 0;

}  // namespace zcnet

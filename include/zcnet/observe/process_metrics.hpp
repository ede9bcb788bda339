// The standard process_* metrics of a Prometheus target, as far as this OS tells them cheaply:
// CPU seconds, resident memory, open and maximum file descriptors, start time.
#pragma once

#include "zcnet/observe/prometheus.hpp"

namespace zcnet {

void write_process_metrics(PrometheusText& out);

}  // namespace zcnet

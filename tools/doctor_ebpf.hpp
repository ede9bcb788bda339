// Whether the bpftrace scripts in tools/trace/ can run here, and what would make them run: the
// `ebpf` part of `zcnet doctor`. Reads only (it runs `bpftrace --version` and nothing else).
#pragma once

#include <nlohmann/json.hpp>

namespace zcnet::cli::doctor {

// {"bpftrace": path or null, "bpftrace_version", "tracefs", "syscall_tracepoints",
//  "tcp_tracepoints", "btf", "kprobes", "privileged", "can_run", "scripts", "advice": [...]}.
// The scripts use tracepoints only: BTF and kprobes are reported, not required. "advice" says
// what stands in the way, one step each (empty when they can run).
nlohmann::json probe_ebpf();

}  // namespace zcnet::cli::doctor

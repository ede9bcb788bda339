// Sizes and lists as the commands take them on the command line (`zcnet serve`'s tuning flags,
// `zcnet load --size`, `zcnet bench --sizes`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zcnet::cli {

// "4096", "4K", "64KiB", "1M", "16MiB", "1G" -> bytes (K = 1024). Throws on anything else.
std::uint64_t parse_size(const std::string& text);
// "4 KiB", "1 MiB", "16 MiB", "1000 B".
std::string format_size(std::uint64_t bytes);
// Comma-separated list: "a,b,c" -> {"a","b","c"} (empty items dropped).
std::vector<std::string> split_list(const std::string& text);

}  // namespace zcnet::cli

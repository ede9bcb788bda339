#include "sizes.hpp"

#include <fmt/format.h>

#include <cctype>
#include <stdexcept>

namespace zcnet::cli {

std::uint64_t parse_size(const std::string& text) {
  std::size_t pos = 0;
  std::uint64_t n = 0;
  try {
    n = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format("'{}' is not a size (e.g. 4096, 64K, 1M)", text));
  }
  std::string unit = text.substr(pos);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB")
    mult = 1ull << 10;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    mult = 1ull << 20;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    mult = 1ull << 30;
  else
    throw std::runtime_error(fmt::format("'{}': unknown size unit '{}'", text, unit));
  return n * mult;
}

std::string format_size(std::uint64_t b) {
  if (b >= (1ull << 30) && b % (1ull << 30) == 0) return fmt::format("{} GiB", b >> 30);
  if (b >= (1ull << 20) && b % (1ull << 20) == 0) return fmt::format("{} MiB", b >> 20);
  if (b >= (1ull << 10) && b % (1ull << 10) == 0) return fmt::format("{} KiB", b >> 10);
  return fmt::format("{} B", b);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace zcnet::cli

#include "zcnet/observe/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>

#include "zcnet/observe/histogram.hpp"

namespace zcnet {

namespace {

// Label values: backslash, double quote and line feed are escaped; HELP text: backslash and
// line feed (the 0.0.4 text format).
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(*out_), "# HELP {} ", name);
  append_escaped(*out_, help, false);
  fmt::format_to(std::back_inserter(*out_), "\n# TYPE {} {}\n", name, type);
}

void PrometheusText::labels(std::initializer_list<PrometheusLabel> ls) {
  if (ls.size() == 0) return;
  *out_ += '{';
  bool first = true;
  for (const auto& l : ls) {
    if (!first) *out_ += ',';
    first = false;
    *out_ += l.name;
    *out_ += "=\"";
    append_escaped(*out_, l.value, true);
    *out_ += '"';
  }
  *out_ += '}';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<PrometheusLabel> ls,
                            std::uint64_t value) {
  *out_ += name;
  labels(ls);
  fmt::format_to(std::back_inserter(*out_), " {}\n", value);
}

void PrometheusText::sample(std::string_view name, std::initializer_list<PrometheusLabel> ls,
                            double value) {
  *out_ += name;
  labels(ls);
  if (std::isinf(value))
    *out_ += value > 0 ? " +Inf\n" : " -Inf\n";
  else if (std::isnan(value))
    *out_ += " NaN\n";
  else
    fmt::format_to(std::back_inserter(*out_), " {}\n", value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const Histogram& h,
                               std::span<const double> bounds_seconds, double units_per_second) {
  family(name, "histogram", help);
  histogram_samples(name, std::nullopt, h, bounds_seconds, units_per_second);
}

void PrometheusText::histogram_samples(std::string_view name, std::optional<PrometheusLabel> label,
                                       const Histogram& h, std::span<const double> bounds_seconds,
                                       double units_per_second) {
  const std::string bucket = fmt::format("{}_bucket", name);
  const auto bucket_sample = [&](std::string_view le, std::uint64_t n) {
    if (label)
      sample(bucket, {*label, {"le", le}}, n);
    else
      sample(bucket, {{"le", le}}, n);
  };
  for (double le : bounds_seconds) {
    // The largest recorded value that still counts as <= le (values are whole units).
    const auto at_or_below = static_cast<std::uint64_t>(std::llround(le * units_per_second));
    bucket_sample(fmt::format("{}", le), h.count_at_or_below(at_or_below));
  }
  bucket_sample("+Inf", h.count());
  const double sum = static_cast<double>(h.sum()) / units_per_second;
  const std::string sum_name = fmt::format("{}_sum", name);
  const std::string count_name = fmt::format("{}_count", name);
  if (label) {
    sample(sum_name, {*label}, sum);
    sample(count_name, {*label}, h.count());
  } else {
    sample(sum_name, {}, sum);
    sample(count_name, {}, h.count());
  }
}

}  // namespace zcnet

// zcnet::PrometheusText: writes the Prometheus text exposition format (version 0.0.4) into a
// string: one # HELP / # TYPE pair per family, then its samples, label values escaped.
//
//   std::string out;
//   PrometheusText p(out);
//   p.family("zcnet_http_requests_total", "counter", "HTTP responses sent, by status.");
//   p.sample("zcnet_http_requests_total", {{"status", "200"}}, 42);
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace zcnet {

class Histogram;

// The content type a scrape answers with.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

struct PrometheusLabel {
  std::string_view name;
  std::string_view value;  // escaped on output (backslash, double quote, newline)
};

class PrometheusText {
 public:
  explicit PrometheusText(std::string& out) : out_(&out) {}

  // `type`: "counter", "gauge", "histogram" or "untyped".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<PrometheusLabel> labels,
              std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<PrometheusLabel> labels, double value);

  // A whole histogram family from a zcnet::Histogram whose values count `units_per_second`
  // to the second (1e6: microseconds): cumulative _bucket{le=...} for each bound (in seconds,
  // rising) and le="+Inf", then _sum (in seconds) and _count.
  void histogram(std::string_view name, std::string_view help, const Histogram& h,
                 std::span<const double> bounds_seconds, double units_per_second);
  // The samples of one histogram of a family already opened with family(name, "histogram", ...),
  // `label` (if any) on each: for a family with one histogram per label value.
  void histogram_samples(std::string_view name, std::optional<PrometheusLabel> label,
                         const Histogram& h, std::span<const double> bounds_seconds,
                         double units_per_second);

 private:
  void labels(std::initializer_list<PrometheusLabel> labels);
  std::string* out_;
};

}  // namespace zcnet

// PrometheusText: the 0.0.4 text format, label escaping, a histogram's cumulative buckets.
#include "zcnet/observe/prometheus.hpp"

#include <gtest/gtest.h>

#include <array>

#include "zcnet/observe/counter.hpp"
#include "zcnet/observe/histogram.hpp"

namespace zcnet {
namespace {

TEST(PrometheusText, CounterFamily_HelpTypeAndLabelledSamples) {
  std::string out;
  PrometheusText p(out);
  p.family("x_total", "counter", "Things.");
  p.sample("x_total", {{"status", "200"}}, std::uint64_t{42});
  p.sample("x_total", {{"a", "1"}, {"b", "2"}}, std::uint64_t{0});
  EXPECT_EQ(out,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{status=\"200\"} 42\n"
            "x_total{a=\"1\",b=\"2\"} 0\n");
}

TEST(PrometheusText, LabelValuesAndHelp_Escaped) {
  std::string out;
  PrometheusText p(out);
  p.family("y", "gauge", "back\\slash\nnewline \"quotes stay\"");
  p.sample("y", {{"v", "a\"b\\c\nd"}}, 1.5);
  EXPECT_EQ(out,
            "# HELP y back\\\\slash\\nnewline \"quotes stay\"\n# TYPE y gauge\n"
            "y{v=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(PrometheusText, Histogram_CumulativeBucketsSumAndCount) {
  Histogram h;  // values in microseconds
  for (std::uint64_t us : {50, 50, 400, 3000, 2'000'000}) h.record(us);
  const std::array<double, 3> bounds{0.0001, 0.001, 1};
  std::string out;
  PrometheusText p(out);
  p.histogram("d_seconds", "Durations.", h, bounds, 1e6);
  EXPECT_NE(out.find("# TYPE d_seconds histogram\n"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"0.0001\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_bucket{le=\"0.001\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_bucket{le=\"1\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_count 5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("d_seconds_sum 2.0035\n"), std::string::npos) << out;
}

TEST(Counter, SingleWriterAdds_ReadersSeeTheTotal) {
  Counter c;
  for (int i = 0; i < 1000; ++i) c.add(3);
  c.add();
  EXPECT_EQ(c.value(), 3001u);
}

}  // namespace
}  // namespace zcnet

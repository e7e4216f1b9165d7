#include "metrics/text_format.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace llmd::metrics {
namespace {

std::string fmt_double(double v) {
  std::string s;
  append_double(s, v);
  return s;
}

TEST(TextFormatTest, DoublesUseShortestRoundTripForm) {
  EXPECT_EQ(fmt_double(0.0), "0");
  EXPECT_EQ(fmt_double(-0.0), "-0");
  EXPECT_EQ(fmt_double(1.0), "1");
  EXPECT_EQ(fmt_double(0.1), "0.1");
  EXPECT_EQ(fmt_double(0.005), "0.005");
  EXPECT_EQ(fmt_double(1e6), "1e+06");
  EXPECT_EQ(fmt_double(123456789.0), "123456789");
  EXPECT_EQ(fmt_double(1.5e-7), "1.5e-07");
  EXPECT_EQ(fmt_double(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(fmt_double(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(fmt_double(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(fmt_double(std::nan("")), "NaN");
}

TEST(TextFormatTest, EscapesLabelValues) {
  std::string s;
  append_escaped_label_value(s, "a\"b\\c\nd e");
  EXPECT_EQ(s, R"(a\"b\\c\nd e)");
}

TEST(TextFormatTest, EscapesHelpWithoutTouchingQuotes) {
  std::string s;
  append_escaped_help(s, "say \"hi\"\\\nnext");
  EXPECT_EQ(s, R"(say "hi"\\\nnext)");
}

TEST(TextFormatTest, ValidatesNames) {
  EXPECT_TRUE(is_valid_metric_name("vllm:num_requests_waiting"));
  EXPECT_TRUE(is_valid_metric_name(":a_1"));
  EXPECT_TRUE(is_valid_metric_name("_x"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("1abc"));
  EXPECT_FALSE(is_valid_metric_name("a-b"));
  EXPECT_FALSE(is_valid_metric_name("a b"));

  EXPECT_TRUE(is_valid_label_name("model_name"));
  EXPECT_TRUE(is_valid_label_name("_a9"));
  EXPECT_FALSE(is_valid_label_name("__name__"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("9a"));
  EXPECT_FALSE(is_valid_label_name(""));
}

TEST(TextFormatTest, MetricTypesRoundTrip) {
  for (MetricType t : {MetricType::kUntyped, MetricType::kCounter, MetricType::kGauge, MetricType::kHistogram,
                       MetricType::kSummary}) {
    MetricType parsed = MetricType::kUntyped;
    ASSERT_TRUE(parse_metric_type(to_string(t), parsed));
    EXPECT_EQ(parsed, t);
  }
  MetricType parsed = MetricType::kGauge;
  EXPECT_FALSE(parse_metric_type("Counter", parsed));
  EXPECT_EQ(parsed, MetricType::kGauge);
}

}  // namespace
}  // namespace llmd::metrics

#include "loadgen/svg_chart.h"

#include <cmath>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

TEST(SvgChart, StandaloneChartsCarryTheirStyleUnderTheTitle) {
  std::vector<ChartSeries> series{{"sim", chart_color(0), false, {{0, 1}, {10, 5}}},
                                  {"published", chart_color(1), true, {{0, 2}, {10, 4}}}};
  const std::string svg = svg_line_chart("TTFT <ms>", "x", "y", series, true);
  const size_t style = svg.find("<style>"), rect = svg.find("<rect width=\"100%\""),
               title = svg.find("class=\"title\">TTFT &lt;ms&gt;</text>");
  ASSERT_NE(style, std::string::npos) << svg;
  ASSERT_NE(rect, std::string::npos) << svg;
  ASSERT_NE(title, std::string::npos) << svg;
  EXPECT_LT(rect, title);  // the white background is painted first
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(svg.find("<style>", style + 1), std::string::npos);
  // Embedded in a page, the chart relies on the page's CSS instead.
  EXPECT_EQ(svg_line_chart("t", "x", "y", series).find("<style>"), std::string::npos);
}

TEST(SvgChart, SkipsUnplottablePointsAndSaysWhenNothingIsLeft) {
  std::vector<ChartSeries> series{{"s", chart_color(0), false, {{-1, 2}, {1, std::nan("")}}}};
  EXPECT_NE(svg_line_chart("t", "x", "y", series).find("no data"), std::string::npos);
  EXPECT_STREQ(chart_color(0), chart_color(10));
}

}  // namespace
}  // namespace llmd::loadgen

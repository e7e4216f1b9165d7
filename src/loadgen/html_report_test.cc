#include "loadgen/html_report.h"

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

ParsedReport run(std::string label, double scale) {
  ParsedReport r;
  r.label = std::move(label);
  for (int i = 1; i <= 3; ++i) {
    ReportPoint p;
    p.stage = i;
    p.offered_rate = 5.0 * i;
    p.request_rate = 4.9 * i;
    p.output_token_rate = 1000.0 * i;
    p.ttft_p50 = 0.01 * i * scale;
    p.ttft_p90 = 0.02 * i * scale;
    p.tpot_p50 = 0.005;
    p.total = 100;
    r.points.push_back(p);
  }
  for (int k = 0; k <= 100; ++k) r.ttft_quantiles.push_back(0.001 * k * scale);
  return r;
}

size_t occurrences(const std::string& s, std::string_view what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

TEST(HtmlReport, IsSelfContainedWithChartsPerRun) {
  std::vector<ParsedReport> runs = {run("round-robin", 5), run("llm-d <default>", 1)};
  const std::string html = render_html_report(runs, "RR vs llm-d");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(occurrences(html, "<svg"), 6u);
  EXPECT_NE(html.find("TTFT CDF"), std::string::npos);
  EXPECT_NE(html.find("TTFT vs request rate"), std::string::npos);
  EXPECT_NE(html.find("Output throughput vs request rate"), std::string::npos);
  // Labels are escaped, and each run has a table with one row per stage.
  EXPECT_NE(html.find("llm-d &lt;default&gt;"), std::string::npos);
  EXPECT_EQ(html.find("llm-d <default>"), std::string::npos);
  EXPECT_EQ(occurrences(html, "<table>"), 2u);
  EXPECT_EQ(occurrences(html, "<tr><td>"), 6u);
  // The TTFT p90 of round-robin at stage 3 is 0.02*3*5 s = 300.0 ms.
  EXPECT_NE(html.find("<td>300.0</td>"), std::string::npos);
  // One polyline per series with data: TTFT 4, TPOT 2 (p50 only), E2E 0, throughput 2, rate 2, CDF 2.
  EXPECT_EQ(occurrences(html, "<polyline"), 12u);
}

TEST(HtmlReport, EmptyRunsStillRender) {
  std::vector<ParsedReport> runs = {ParsedReport{"empty", {}, {}}};
  const std::string html = render_html_report(runs, "t");
  EXPECT_EQ(occurrences(html, "no data"), 6u);
}

TEST(HtmlReport, Escapes) { EXPECT_EQ(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;"); }

}  // namespace
}  // namespace llmd::loadgen

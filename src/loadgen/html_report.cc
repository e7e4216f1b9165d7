#include "loadgen/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "loadgen/svg_chart.h"

namespace llmd::loadgen {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {

using PointValue = std::optional<double> (*)(const ReportPoint&);

std::vector<ChartSeries> per_run(std::span<const ParsedReport> runs, std::string_view suffix,
                                 PointValue value, bool dashed) {
  std::vector<ChartSeries> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    ChartSeries s{runs[i].label + std::string(suffix), chart_color(i), dashed, {}};
    for (const auto& p : runs[i].points) {
      if (auto v = value(p)) s.points.emplace_back(p.x(), *v);
    }
    std::sort(s.points.begin(), s.points.end());
    out.push_back(std::move(s));
  }
  return out;
}

std::string ms(const std::optional<double>& s) { return s ? fmt::format("{:.1f}", *s * 1000) : "–"; }

}  // namespace

std::string render_html_report(std::span<const ParsedReport> runs, std::string_view title) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<style>\n"
      "body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}\n"
      "h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}\n"
      ".charts{{display:flex;flex-wrap:wrap;gap:12px}}\n"
      "{1}"
      "table{{border-collapse:collapse;font-size:13px}}\n"
      "th,td{{border:1px solid #ddd;padding:4px 8px;text-align:right}} th{{background:#f5f5f5}}\n"
      "td:first-child,th:first-child{{text-align:left}}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      html_escape(title), chart_css());
  html +=
      "<p>Rate axis: the offered request rate of each stage (the achieved rate for concurrency stages). "
      "Solid lines are p90, dashed lines p50.</p>\n<div class=\"charts\">\n";

  auto ttft90 = per_run(
      runs, " p90", [](const ReportPoint& p) { return p.ttft_p90; }, false);
  auto ttft50 = per_run(
      runs, " p50", [](const ReportPoint& p) { return p.ttft_p50; }, true);
  ttft90.insert(ttft90.end(), ttft50.begin(), ttft50.end());
  for (auto& s : ttft90) {
    for (auto& pt : s.points) pt.second *= 1000;
  }
  html += svg_line_chart("TTFT vs request rate", "request rate (req/s)", "TTFT (ms)", ttft90);

  auto tpot90 = per_run(
      runs, " p90", [](const ReportPoint& p) { return p.tpot_p90; }, false);
  auto tpot50 = per_run(
      runs, " p50", [](const ReportPoint& p) { return p.tpot_p50; }, true);
  tpot90.insert(tpot90.end(), tpot50.begin(), tpot50.end());
  for (auto& s : tpot90) {
    for (auto& pt : s.points) pt.second *= 1000;
  }
  html += svg_line_chart("TPOT vs request rate", "request rate (req/s)", "TPOT (ms/token)", tpot90);

  auto e2e = per_run(
      runs, " p90", [](const ReportPoint& p) { return p.e2e_p90; }, false);
  for (auto& s : e2e) {
    for (auto& pt : s.points) pt.second *= 1000;
  }
  html +=
      svg_line_chart("End-to-end latency vs request rate", "request rate (req/s)", "E2E latency (ms)", e2e);

  html += svg_line_chart(
      "Output throughput vs request rate", "request rate (req/s)", "output tokens/s",
      per_run(
          runs, "", [](const ReportPoint& p) -> std::optional<double> { return p.output_token_rate; },
          false));
  html += svg_line_chart(
      "Achieved vs offered rate", "request rate (req/s)", "completed req/s",
      per_run(
          runs, "", [](const ReportPoint& p) -> std::optional<double> { return p.request_rate; }, false));

  std::vector<ChartSeries> cdf;
  for (size_t i = 0; i < runs.size(); ++i) {
    ChartSeries s{runs[i].label, chart_color(i), false, {}};
    const auto& q = runs[i].ttft_quantiles;
    // Up to p99: one slow outlier would otherwise squeeze every curve against the axis.
    for (size_t k = 0; k < q.size() && k <= 99; ++k) {
      s.points.emplace_back(q[k] * 1000, static_cast<double>(k) / 100.0);
    }
    cdf.push_back(std::move(s));
  }
  html +=
      svg_line_chart("TTFT CDF up to p99 (all measured stages)", "TTFT (ms)", "fraction of requests", cdf);
  html += "</div>\n";

  for (const auto& run : runs) {
    html += fmt::format(
        "<h2>{}</h2>\n<table>\n<tr><th>stage</th><th>offered</th><th>req/s</th><th>output tok/s</th>"
        "<th>TTFT p50 ms</th><th>TTFT p90 ms</th><th>TTFT p99 ms</th><th>TPOT p50 ms</th><th>ITL p50 ms</th>"
        "<th>E2E p50 ms</th><th>goodput req/s</th><th>requests</th><th>failures</th></tr>\n",
        html_escape(run.label));
    for (const auto& p : run.points) {
      const std::string offered = p.offered_rate > 0  ? fmt::format("{:.2f} req/s", p.offered_rate)
                                  : p.concurrency > 0 ? fmt::format("c={}", p.concurrency)
                                                      : std::string("–");
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.1f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</"
          "td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
          p.stage, offered, p.request_rate, p.output_token_rate, ms(p.ttft_p50), ms(p.ttft_p90),
          ms(p.ttft_p99), ms(p.tpot_p50), ms(p.itl_p50), ms(p.e2e_p50),
          p.goodput_rate >= 0 ? fmt::format("{:.2f}", p.goodput_rate) : std::string("–"), p.total,
          p.failures);
    }
    html += "</table>\n";
  }
  html += "</body>\n</html>\n";
  return html;
}

}  // namespace llmd::loadgen

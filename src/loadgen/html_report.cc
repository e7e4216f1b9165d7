#include "loadgen/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>

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

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Series {
  std::string name;
  const char* color;
  bool dashed = false;
  std::vector<std::pair<double, double>> points;
};

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  if (!(span > 0)) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10;
  return step * mag;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) return "0";
  if (step >= 1 && std::abs(v) < 1e7) return fmt::format("{:.0f}", v);
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step))), 0, 9);
  return fmt::format("{:.{}f}", v, decimals);
}

// Values a chart can place; anything else (from a hand-edited report) is left out.
bool plottable(double v) { return std::isfinite(v) && v >= 0 && v < 1e12; }

std::string line_chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                       const std::vector<Series>& series) {
  constexpr double kW = 560, kH = 340, kLeft = 70, kRight = 20, kTop = 36, kBottom = 52;
  double x_max = 0, y_max = 0;
  double x_min = std::numeric_limits<double>::max();
  size_t n_points = 0;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!plottable(x) || !plottable(y)) continue;
      x_max = std::max(x_max, x);
      x_min = std::min(x_min, x);
      y_max = std::max(y_max, y);
      ++n_points;
    }
  }
  std::string svg = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "xmlns=\"http://www.w3.org/2000/svg\">\n<title>{2}</title>\n"
      "<text x=\"{3}\" y=\"22\" class=\"title\">{2}</text>\n",
      kW, kH, html_escape(title), kW / 2);
  if (n_points == 0) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"empty\">no data</text>\n</svg>\n", kW / 2, kH / 2);
    return svg;
  }
  // Axes start at zero so rates and latencies compare by eye.
  x_min = 0;
  if (!(x_max > 0)) x_max = 1;
  if (!(y_max > 0)) y_max = 1;
  const double x_step = nice_step(x_max - x_min, 6);
  const double y_step = nice_step(y_max, 5);
  x_max = std::ceil(x_max / x_step) * x_step;
  y_max = std::ceil(y_max / y_step) * y_step;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * pw; };
  auto py = [&](double y) { return kTop + ph - y / y_max * ph; };

  // Integer tick loops: a step that is tiny next to the maximum cannot spin forever.
  const int y_ticks = static_cast<int>(std::lround(y_max / y_step));
  for (int i = 0; i <= y_ticks; ++i) {
    const double y = i * y_step;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" class=\"grid\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" class=\"ytick\">{5}</text>\n",
        kLeft, py(y), kLeft + pw, kLeft - 6, py(y) + 4, tick_label(y, y_step));
  }
  const int x_ticks = static_cast<int>(std::lround((x_max - x_min) / x_step));
  for (int i = 0; i <= x_ticks; ++i) {
    const double x = x_min + i * x_step;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" class=\"xtick\">{4}</text>\n",
        px(x), kTop, kTop + ph, kTop + ph + 16, tick_label(x, x_step));
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n"
      "<text x=\"{}\" y=\"{}\" class=\"xlabel\">{}</text>\n"
      "<text transform=\"translate(16 {}) rotate(-90)\" class=\"ylabel\">{}</text>\n",
      kLeft, kTop, pw, ph, kLeft + pw / 2, kH - 12, html_escape(x_label), kTop + ph / 2,
      html_escape(y_label));

  for (const auto& s : series) {
    if (s.points.empty()) continue;
    std::string pts;
    for (const auto& [x, y] : s.points) {
      if (plottable(x) && plottable(y)) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    }
    svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", pts,
                       s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (const auto& [x, y] : s.points) {
      if (!plottable(x) || !plottable(y)) continue;
      svg += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: ({:.4g}, "
          "{:.4g})</title></circle>\n",
          px(x), py(y), s.color, html_escape(s.name), x, y);
    }
  }
  // Legend, top-left inside the plot.
  double ly = kTop + 14;
  for (const auto& s : series) {
    if (s.points.empty()) continue;
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\"{4}/>"
        "<text x=\"{5:.1f}\" y=\"{6:.1f}\" class=\"legend\">{7}</text>\n",
        kLeft + 8, ly, kLeft + 30, s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "", kLeft + 36, ly + 4,
        html_escape(s.name));
    ly += 16;
  }
  svg += "</svg>\n";
  return svg;
}

using PointValue = std::optional<double> (*)(const ReportPoint&);

std::vector<Series> per_run(std::span<const ParsedReport> runs, std::string_view suffix, PointValue value,
                            bool dashed) {
  std::vector<Series> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s{runs[i].label + std::string(suffix), kColors[i % std::size(kColors)], dashed, {}};
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
      ".chart{{border:1px solid #ddd;background:#fff}}\n"
      ".chart .title{{font-size:14px;font-weight:600;text-anchor:middle}}\n"
      ".chart .grid{{stroke:#eee}} .chart .frame{{fill:none;stroke:#999}}\n"
      ".chart .xtick{{font-size:11px;text-anchor:middle;fill:#555}}\n"
      ".chart .ytick{{font-size:11px;text-anchor:end;fill:#555}}\n"
      ".chart .xlabel,.chart .ylabel{{font-size:12px;text-anchor:middle}}\n"
      ".chart .legend{{font-size:11px}} .chart .empty{{font-size:13px;text-anchor:middle;fill:#999}}\n"
      "table{{border-collapse:collapse;font-size:13px}}\n"
      "th,td{{border:1px solid #ddd;padding:4px 8px;text-align:right}} th{{background:#f5f5f5}}\n"
      "td:first-child,th:first-child{{text-align:left}}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      html_escape(title));
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
  html += line_chart("TTFT vs request rate", "request rate (req/s)", "TTFT (ms)", ttft90);

  auto tpot90 = per_run(
      runs, " p90", [](const ReportPoint& p) { return p.tpot_p90; }, false);
  auto tpot50 = per_run(
      runs, " p50", [](const ReportPoint& p) { return p.tpot_p50; }, true);
  tpot90.insert(tpot90.end(), tpot50.begin(), tpot50.end());
  for (auto& s : tpot90) {
    for (auto& pt : s.points) pt.second *= 1000;
  }
  html += line_chart("TPOT vs request rate", "request rate (req/s)", "TPOT (ms/token)", tpot90);

  auto e2e = per_run(
      runs, " p90", [](const ReportPoint& p) { return p.e2e_p90; }, false);
  for (auto& s : e2e) {
    for (auto& pt : s.points) pt.second *= 1000;
  }
  html += line_chart("End-to-end latency vs request rate", "request rate (req/s)", "E2E latency (ms)", e2e);

  html += line_chart(
      "Output throughput vs request rate", "request rate (req/s)", "output tokens/s",
      per_run(
          runs, "", [](const ReportPoint& p) -> std::optional<double> { return p.output_token_rate; },
          false));
  html += line_chart(
      "Achieved vs offered rate", "request rate (req/s)", "completed req/s",
      per_run(
          runs, "", [](const ReportPoint& p) -> std::optional<double> { return p.request_rate; }, false));

  std::vector<Series> cdf;
  for (size_t i = 0; i < runs.size(); ++i) {
    Series s{runs[i].label, kColors[i % std::size(kColors)], false, {}};
    const auto& q = runs[i].ttft_quantiles;
    // Up to p99: one slow outlier would otherwise squeeze every curve against the axis.
    for (size_t k = 0; k < q.size() && k <= 99; ++k) {
      s.points.emplace_back(q[k] * 1000, static_cast<double>(k) / 100.0);
    }
    cdf.push_back(std::move(s));
  }
  html += line_chart("TTFT CDF up to p99 (all measured stages)", "TTFT (ms)", "fraction of requests", cdf);
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

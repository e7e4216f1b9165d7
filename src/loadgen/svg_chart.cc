#include "loadgen/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "loadgen/html_report.h"

namespace llmd::loadgen {

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

constexpr std::string_view kChartCss =
    ".chart{border:1px solid #ddd;background:#fff;font-family:system-ui,sans-serif}\n"
    ".chart .title{font-size:14px;font-weight:600;text-anchor:middle}\n"
    ".chart .grid{stroke:#eee} .chart .frame{fill:none;stroke:#999}\n"
    ".chart .xtick{font-size:11px;text-anchor:middle;fill:#555}\n"
    ".chart .ytick{font-size:11px;text-anchor:end;fill:#555}\n"
    ".chart .xlabel,.chart .ylabel{font-size:12px;text-anchor:middle}\n"
    ".chart .legend{font-size:11px} .chart .empty{font-size:13px;text-anchor:middle;fill:#999}\n";

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

}  // namespace

const char* chart_color(std::size_t i) { return kColors[i % std::size(kColors)]; }

std::string_view chart_css() { return kChartCss; }

std::string svg_line_chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                           const std::vector<ChartSeries>& series, bool standalone) {
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
      "xmlns=\"http://www.w3.org/2000/svg\">\n<title>{2}</title>\n",
      kW, kH, html_escape(title));
  if (standalone) {
    svg +=
        fmt::format("<style>\n{}</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", kChartCss);
  }
  svg += fmt::format("<text x=\"{}\" y=\"22\" class=\"title\">{}</text>\n", kW / 2, html_escape(title));
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

}  // namespace llmd::loadgen

#pragma once
// Line charts as hand-written SVG (no plotting library is packaged for C++ in Debian): used by
// `llmd bench report` pages and by bench/sim/sim_curves for the plots in docs/simulator.md.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmd::loadgen {

struct ChartSeries {
  std::string name;
  std::string color;  // any SVG colour; chart_color(i) gives a palette
  bool dashed = false;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite or negative values are skipped
};

// The i-th colour of a 10-colour palette (cycles).
const char* chart_color(std::size_t i);

// One chart, axes from zero, with a legend. Styled by the CSS classes under `.chart` (see
// chart_css()); `standalone` embeds that CSS so the SVG renders on its own as a file.
std::string svg_line_chart(std::string_view title, std::string_view x_label, std::string_view y_label,
                           const std::vector<ChartSeries>& series, bool standalone = false);

// CSS rules for the charts' classes, for pages that embed several charts.
std::string_view chart_css();

}  // namespace llmd::loadgen

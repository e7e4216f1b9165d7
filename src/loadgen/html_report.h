#pragma once
// `llmd bench report`: one self-contained HTML page (inline CSS and hand-written SVG, no scripts or
// external assets, so it can be mailed or attached to a CI run) that compares runs: latency and
// throughput against request rate, and the TTFT CDF, plus a table of every stage.

#include <span>
#include <string>
#include <string_view>

#include "loadgen/report.h"

namespace llmd::loadgen {

std::string render_html_report(std::span<const ParsedReport> runs, std::string_view title);

// Exposed for tests: escapes &, <, >, " and '.
std::string html_escape(std::string_view s);

}  // namespace llmd::loadgen

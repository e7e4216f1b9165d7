// Fuzzes the report reader behind `llmd bench report` and the HTML it renders from what it read.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "loadgen/html_report.h"
#include "loadgen/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = llmd::loadgen::parse_report(text, "fuzz");
  if (parsed) {
    std::vector<llmd::loadgen::ParsedReport> runs = {*parsed};
    (void)llmd::loadgen::render_html_report(runs, "fuzz");
  }
  return 0;
}

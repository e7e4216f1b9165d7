// Fuzz target for the Prometheus text parser: any input must parse or fail cleanly, in both error modes,
// with and without a filter, and every view handed back must be readable.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/parser.h"

namespace {

// Views point into the input or into the page's scratch; reading every byte lets ASan catch a view
// that strays outside either.
void touch(std::string_view view) {
  volatile char sink = 0;
  for (char c : view) sink = static_cast<char>(sink ^ c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static llmd::metrics::Page page;  // reused, as a scraper does
  static const llmd::metrics::ScrapeFilter filter = [] {
    llmd::metrics::ScrapeFilter f{"vllm:num_requests_waiting", "a", "up"};
    f.add_family("vllm:time_to_first_token_seconds");
    return f;
  }();

  auto strict = llmd::metrics::parse(input, page);
  const size_t strict_samples = page.samples().size();

  auto lenient = llmd::metrics::parse(input, page, {.on_error = llmd::metrics::OnError::kSkipLine});
  if (!lenient) std::abort();  // skip mode never fails below 4 GiB
  if (strict && (page.skipped_lines() != 0 || page.samples().size() != strict_samples)) std::abort();
  if (!strict && page.skipped_lines() == 0) std::abort();
  for (const auto& s : page.samples()) {
    touch(s.name);
    for (const auto& l : page.labels(s)) {
      touch(l.name);
      touch(l.value);
    }
  }
  for (const auto& f : page.families()) touch(f.help);

  auto filtered =
      llmd::metrics::parse(input, page, {.on_error = llmd::metrics::OnError::kSkipLine, .filter = &filter});
  if (!filtered) std::abort();
  for (const auto& s : page.samples()) {
    if (!filter.wants(s.name)) std::abort();
  }
  return 0;
}

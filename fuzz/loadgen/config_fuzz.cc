// Fuzzes what `llmd bench` parses from users: the YAML config, length distributions, stage ladders,
// SLO durations and target URLs. The first byte picks the parser.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loadgen/bench_config.h"
#include "loadgen/distribution.h"
#include "loadgen/load.h"
#include "loadgen/runner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace llmd::loadgen;
  switch (data[0] % 5) {
    case 0: {
      auto c = parse_bench_config(text, "fuzz.yaml");
      if (c) (void)c->validate();
      break;
    }
    case 1: {
      auto d = parse_distribution(text, "fuzz");
      if (d) {
        llmd::Rng rng(1);
        for (int i = 0; i < 8; ++i) (void)d->sample(rng);
        (void)parse_distribution(d->to_spec(), "fuzz");
      }
      break;
    }
    case 2:
      (void)parse_stages(text, LoadKind::kConstant, "fuzz");
      (void)parse_stages(text, LoadKind::kConcurrent, "fuzz");
      break;
    case 3:
      (void)parse_seconds(text, "fuzz");
      break;
    default:
      (void)parse_target(text, "fuzz");
      break;
  }
  return 0;
}

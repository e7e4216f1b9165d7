#pragma once
// Console output: the end-of-run table and the live progress line (a redrawn bar on a TTY, plain
// periodic lines otherwise).

#include <cstdint>
#include <optional>
#include <string>

#include "loadgen/report.h"

namespace llmd::loadgen {

// One table row per stage (warm-up and probe stages marked), then errors by type, goodput and the
// prefix-cache hit fraction of the measured stages.
std::string format_summary_table(const RunResult& run);

struct ProgressSnapshot {
  uint32_t stage = 0;       // 0-based
  uint32_t stages = 1;      // known so far (a sweep grows after its probe)
  std::string stage_label;  // "warmup", "rate 5.0/s", "concurrency 8"
  double elapsed_s = 0;     // in this stage
  std::optional<double> stage_duration_s;
  std::optional<uint64_t> stage_requests;  // request limit of this stage
  uint64_t sent = 0, completed = 0, errors = 0, in_flight = 0;
  double rate = 0;  // completions per second over the last interval
};

// Fraction of the stage done, in [0, 1], from whichever limit is closer; nullopt when unknown.
std::optional<double> stage_progress(const ProgressSnapshot& s);
// Seconds left in this stage, when it can be estimated.
std::optional<double> stage_eta(const ProgressSnapshot& s);
// "[#####.....] 50% stage 2/4 rate 5.0/s | 120.3 req/s | in-flight 12 | errors 0 | ETA 0:25", no newline.
std::string format_progress_bar(const ProgressSnapshot& s, int bar_width = 24);
// The same facts as one log-friendly line, with a newline.
std::string format_progress_line(const ProgressSnapshot& s);

}  // namespace llmd::loadgen

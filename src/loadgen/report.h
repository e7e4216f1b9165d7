#pragma once
// Benchmark outputs: the JSON report (llm-d benchmark report v0.2 field names; the extras llmd adds,
// per-stage results, goodput, errors by type and the TTFT CDF, live under
// results.profiling.llmd_bench, the schema's free-form slot), per-request JSONL and CSV, and the
// reader the HTML comparison uses (it also accepts plain v0.2 reports from llm-d-benchmark).

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "loadgen/load.h"
#include "loadgen/metrics.h"
#include "loadgen/openai.h"
#include "loadgen/workload.h"

namespace llmd::loadgen {

enum class StageKind { kWarmup, kProbe, kMeasure };
std::string_view to_string(StageKind kind);

struct StageResult {
  uint32_t index = 0;
  StageKind kind = StageKind::kMeasure;
  LoadKind arrivals = LoadKind::kConstant;  // constant, poisson or concurrent
  Stage stage;                              // as configured
  Summary summary;
};

// Counters of the generator itself, to tell a saturated generator from a saturated target.
struct GeneratorStats {
  uint64_t dropped = 0;  // requests not sent because max_inflight was reached
  uint64_t max_inflight_seen = 0;
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t reused_connections = 0;
};

struct RunInfo {
  std::string uid;
  std::string description;
  std::vector<std::string> keywords;
  Nanos wall_start{0};
  Nanos wall_end{0};
  std::vector<std::string> targets;  // base URLs
  RequestOptions request;
  WorkloadSpec workload;
  std::string tokenizer;
  LoadSpec load;
  SloSpec slo;
};

struct RunResult {
  RunInfo info;
  std::vector<StageResult> stages;
  Summary overall;  // every measured stage together
  GeneratorStats generator;
};

// The JSON report document.
boost::json::value to_report_json(const RunResult& run);
// "PT12.5S".
std::string iso8601_duration(double seconds);
// "2026-08-21T10:00:00.123Z".
std::string iso8601_time(Nanos wall);

// Per-request rows. Times are seconds from `origin` (the run's monotonic start).
std::string record_jsonl(const RequestRecord& r, Nanos origin);
std::string_view csv_header();
std::string record_csv(const RequestRecord& r, Nanos origin);

// One stage of a report, as the HTML comparison plots it.
struct ReportPoint {
  uint32_t stage = 0;
  double offered_rate = 0;   // configured req/s; 0 for concurrency stages
  uint32_t concurrency = 0;  // configured concurrency; 0 for rate stages
  double request_rate = 0;   // achieved req/s
  double output_token_rate = 0;
  double total_token_rate = 0;
  double goodput_rate = -1;  // -1 when no SLO was set
  uint64_t total = 0, failures = 0;
  std::optional<double> ttft_p50, ttft_p90, ttft_p99, tpot_p50, tpot_p90, itl_p50, e2e_p50, e2e_p90;
  // The x value: the offered rate, else the achieved rate.
  double x() const { return offered_rate > 0 ? offered_rate : request_rate; }
};

struct ParsedReport {
  std::string label;
  std::vector<ReportPoint> points;     // measured stages in order
  std::vector<double> ttft_quantiles;  // 0..100 %, empty when absent
};

// Reads a report written by to_report_json, or any v0.2 report with results.request_performance.
// Errors (kInvalidArgument) name the offending JSON path.
Result<ParsedReport> parse_report(std::string_view json_text, std::string_view fallback_label);

}  // namespace llmd::loadgen

#pragma once
// Per-request measurement and aggregation. A RequestRecord is the raw timeline of one request
// (send, each streamed token, end); the metrics derive from it exactly as inference-perf defines
// them: TTFT = first token - send; E2E = end - send; ITL = every gap between consecutive streamed
// tokens; TPOT = (E2E - TTFT) / (output tokens - 1); NTPOT = E2E / output tokens.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace llmd::loadgen {

enum class RequestStatus {
  kOk,
  kHttpError,      // non-2xx status
  kConnectFailed,  // no connection could be made
  kTimeout,
  kProtocol,     // malformed HTTP, SSE or JSON
  kStreamError,  // the server sent an error event inside the stream
  kIncomplete,   // the stream ended without [DONE] or a finish
  kCancelled,
  kIo,
  kDropped,  // never sent: the generator's in-flight bound was reached
};

std::string_view to_string(RequestStatus status);

struct RequestRecord {
  uint64_t id = 0;
  uint32_t stage = 0;
  uint32_t prompt = 0;    // index into the workload's prompts
  uint32_t upstream = 0;  // index of the target it was sent to
  Nanos scheduled{0};     // when the load shape wanted it sent
  Nanos start{0};         // when it was handed to the HTTP client
  Nanos end{0};           // last byte, or failure
  RequestStatus status = RequestStatus::kOk;
  uint16_t http_status = 0;
  bool streamed = true;
  uint32_t input_tokens = 0;   // usage.prompt_tokens, else the workload's count
  uint32_t output_tokens = 0;  // usage.completion_tokens, else the number of content chunks
  uint32_t cached_tokens = 0;  // usage.prompt_tokens_details.cached_tokens
  bool usage_reported = false;
  // Arrival time of every streamed chunk that carried generated text. Reserved once per request
  // (max_tokens + 1), so streaming does not allocate per token.
  std::vector<Nanos> token_times;
  std::string error;  // a short reason, for failures only

  bool ok() const { return status == RequestStatus::kOk; }
  // The key errors are grouped by: "http_429", "timeout", "connect_failed", ...
  std::string error_type() const;
};

// Latencies of one request in seconds; unset where undefined (no streaming, too few tokens).
struct RequestMetrics {
  double e2e = 0;
  std::optional<double> ttft;
  std::optional<double> tpot;   // needs streaming and at least 2 output tokens
  std::optional<double> ntpot;  // needs at least 1 output token
  double schedule_lag = 0;      // start - scheduled: how late the generator was
};

RequestMetrics derive_metrics(const RequestRecord& r);
// Appends every inter-token gap (seconds) of a streamed request.
void append_itl(const RequestRecord& r, std::vector<double>& out);

// Summary statistics with percentiles by linear interpolation between closest ranks (numpy's
// default), which is what inference-perf and llm-d-benchmark report.
struct Stats {
  size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p10 = 0, p25 = 0, p50 = 0, p75 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0;
};

// Sorts `values` in place and summarises them.
Stats compute_stats(std::vector<double>& values);
// q in [0, 1]; `sorted` ascending and non-empty.
double percentile(const std::vector<double>& sorted, double q);

struct SloSpec {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  bool any() const { return ttft_s || tpot_s; }
};

// True when a successful request meets every SLO given (TPOT is not judged with fewer than 2 tokens).
bool meets_slo(const RequestMetrics& m, bool ok, const SloSpec& slo);

struct Summary {
  uint64_t total = 0;  // requests attempted (including dropped)
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  std::map<std::string, uint64_t> errors;  // by error_type()
  double duration_s = 0;                   // first send to last completion
  uint64_t input_tokens = 0, output_tokens = 0, cached_tokens = 0;
  double request_rate = 0, input_token_rate = 0, output_token_rate = 0, total_token_rate = 0;
  Stats ttft, tpot, itl, ntpot, e2e, input_len, output_len;
  // Goodput: successful requests meeting the SLOs, per second, and their output tokens per second.
  bool slo_set = false;
  uint64_t good_requests = 0;
  double goodput_rate = 0, goodput_token_rate = 0, goodput_fraction = 0;
  double cache_hit_fraction = 0;  // cached / input tokens, over requests that reported usage
  Stats schedule_lag;
  // TTFT quantiles at 0, 1, ..., 100 percent (empty without TTFTs): the CDF the HTML report draws.
  std::vector<double> ttft_quantiles;
};

Summary summarize(std::span<const RequestRecord> records, const SloSpec& slo);
// The same over records held elsewhere (the runner keeps them in per-stage deques).
Summary summarize(std::span<const RequestRecord* const> records, const SloSpec& slo);

}  // namespace llmd::loadgen

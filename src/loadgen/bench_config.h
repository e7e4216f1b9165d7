#pragma once
// The whole configuration of one `llmd bench` run, as read from `--config bench.yaml` (strict: an
// unknown key or a wrong type is an error naming its path) and then overridden by flags.
//
//   targets: [http://127.0.0.1:8000]
//   api: {type: completions, streaming: true, model: sim, ignore_eos: true, headers: {X-A: b}}
//   data:
//     type: shared_prefix            # random | chatbot | code_completion | summarization
//     seed: 42
//     tokenizer: /models/qwen/tokenizer.json   # lengths in this model's tokens (default: llmd sim's)
//     shared_prefix: {num_groups: 32, prompts_per_group: 32, system_prompt_len: 2048,
//                     question_len: 256, output_len: 256, turns: 1}
//     random: {input: "normal:512,128", output: "fixed:128", num_prompts: 1000}
//   load:
//     type: poisson                  # constant | concurrent | sweep
//     warmup: {rate: 15, duration: 30s}
//     stages: [{rate: 3, duration: 50s}, {rate: 10, duration: 50s, num_requests: 400}]
//     sweep: {num_stages: 5, stage_duration: 30s, type: linear, probe_concurrency: 256,
//             probe_duration: 15s, arrivals: poisson}
//     max_inflight: 10000
//     timeout: 300s
//     connect_timeout: 5s
//   slo: {ttft: 500ms, tpot: 50ms}
//   report: {output: run.json, requests_jsonl: req.jsonl, requests_csv: req.csv,
//            description: baseline, keywords: [rr]}

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "loadgen/load.h"
#include "loadgen/metrics.h"
#include "loadgen/openai.h"
#include "loadgen/workload.h"

namespace llmd::loadgen {

struct OutputSpec {
  std::string report;  // JSON report path
  std::string requests_jsonl;
  std::string requests_csv;
  std::string description;
  std::vector<std::string> keywords;
};

struct BenchConfig {
  std::vector<std::string> targets;
  RequestOptions request;
  std::map<std::string, std::string> headers;
  WorkloadSpec workload;
  std::string tokenizer;  // a Hugging Face tokenizer.json; empty: the simulator's pseudo-tokenizer
  LoadSpec load;
  uint64_t max_inflight = 10'000;
  std::chrono::duration<double> timeout{300};
  std::chrono::duration<double> connect_timeout{5};
  SloSpec slo;
  OutputSpec output;

  // Cross-field checks after flags were applied; errors name the config path.
  Result<void> validate() const;
};

// Reads a config over BenchConfig's defaults (a synthetic `data.type` also sets its profile's
// shapes, which a `data.random` block may then override).
Result<BenchConfig> parse_bench_config(std::string_view text, std::string_view source_name);
Result<BenchConfig> load_bench_config(const std::string& path);

// "500ms", "1.5s", "2m", or a bare number of milliseconds. Errors name `path`.
Result<double> parse_seconds(std::string_view text, std::string_view path);

}  // namespace llmd::loadgen

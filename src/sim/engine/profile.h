#pragma once
// A simulator profile: the performance model of one model on one accelerator setup, loaded from
// YAML (profiles/*.yaml, built into the binary) and evaluated once per engine step.
//
// Step time model (one engine iteration, all scheduled requests run together):
//
//   t = base + prefill_base·[step has prefill] + b·prefill_tokens + c·decode_seqs + d·context_tokens
//
// `base` is the fixed cost of a forward pass (weights read once per step: the decode floor).
// `b` is the per-token cost of prefill (compute-bound matmuls), `c` the per-sequence cost of
// decode (sampling, per-row work), and `d` the cost of attention reading the KV cache, paid per
// token of context attended by every scheduled sequence. `prefill_base` is the extra fixed cost
// of a step that carries prefill; it lets one profile reproduce published figures that quote
// TTFT as "fixed + per-token" and ITL separately (llm-d-inference-sim's 30 ms + 250 µs/token with
// 12 ms ITL). This is the linear form BLIS fits per (model, GPU, TP) and reports 7-9 % median
// error with; quadratic prefill attention is folded into `b` at the chunk sizes used here.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace llmd::sim {

// What a step is made of, as the performance model sees it.
struct BatchShape {
  uint64_t prefill_tokens = 0;  // tokens computed for requests still in prefill (incl. recompute)
  uint64_t decode_seqs = 0;     // requests computing exactly their next token
  uint64_t context_tokens = 0;  // sum over scheduled requests of the context they attend
};

struct StepCost {
  double base_ms = 0;
  double prefill_base_ms = 0;
  double per_prefill_token_us = 0;
  double per_decode_seq_us = 0;
  double per_context_token_ns = 0;
};

struct Profile {
  std::string name;
  std::string description;
  std::string model;  // default served model name
  StepCost step;
  uint64_t kv_cache_tokens = 0;     // KV capacity of one replica, in tokens
  uint64_t kv_bytes_per_token = 0;  // for P/D transfer time
  double kv_link_gbytes_per_s = 0;  // P/D transfer bandwidth (GB/s, 1e9 bytes)
  uint32_t max_model_len = 0;
  uint32_t tensor_parallel_size = 1;

  Nanos step_time(const BatchShape& b) const;
  // Time to pull the KV of `tokens` tokens from a prefill replica.
  Nanos transfer_time(uint64_t tokens) const;
};

// Strict decoding: unknown keys, wrong types and missing required fields fail with their path.
Result<Profile> parse_profile(std::string_view yaml, std::string_view source_name);
// Profiles built into the binary from profiles/*.yaml, by file name without the extension.
Result<Profile> builtin_profile(std::string_view name);
std::vector<std::string> builtin_profile_names();
// A built-in profile name, or else a path to a YAML file.
Result<Profile> load_profile(const std::string& name_or_path);

}  // namespace llmd::sim

#pragma once
// Workload generators: the prompts a benchmark sends, built deterministically from a seed and
// measured in the target's tokens. shared_prefix groups prompts behind an exact shared text prefix
// (optionally as multi-turn sessions whose history accumulates); random draws input and output
// lengths from distributions; chatbot, code_completion and summarization are llm-d-benchmark's
// synthetic profiles (random with fixed shapes).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "loadgen/distribution.h"
#include "loadgen/token_counter.h"

namespace llmd::loadgen {

enum class WorkloadKind { kSharedPrefix, kRandom, kChatbot, kCodeCompletion, kSummarization };

std::string_view to_string(WorkloadKind kind);
Result<WorkloadKind> parse_workload_kind(std::string_view name);

struct SharedPrefixSpec {
  uint32_t num_groups = 32;
  uint32_t prompts_per_group = 32;  // users per group
  uint32_t system_prompt_len = 2048;
  uint32_t question_len = 256;
  uint32_t output_len = 256;
  // Turns per user. Above 1, each turn's prompt carries the whole history (system prompt, earlier
  // questions and synthetic answers of output_len tokens) so prefixes grow turn by turn.
  uint32_t turns = 1;
};

struct RandomSpec {
  LengthDistribution input = LengthDistribution::fixed(512);
  LengthDistribution output = LengthDistribution::fixed(128);
  uint32_t num_prompts = 1000;  // distinct prompts generated, then sent in a cycle
};

struct WorkloadSpec {
  WorkloadKind kind = WorkloadKind::kSharedPrefix;
  SharedPrefixSpec shared_prefix;
  RandomSpec random;  // used by random and by the synthetic profiles
  uint64_t seed = 42;

  Result<void> validate() const;
};

// The input/output shapes of llm-d-benchmark's synthetic profiles (inference-perf `random` data):
// chatbot in N(4096, 2048) on [10, 8192], out N(1024, 512) on [10, 2048]; code_completion in
// N(2048, 1024) on [10, 4096], out N(128, 64) on [10, 256]; summarization in N(2048, 1024) on
// [10, 4096], out N(256, 128) on [10, 512]; 1000 prompts each. Other kinds return `RandomSpec{}`.
RandomSpec synthetic_profile(WorkloadKind kind);

struct Message {
  std::string_view role;  // "system", "user" or "assistant"
  std::string content;
};

struct Prompt {
  // Chat form: an optional system message, earlier turns, and the user's question last. The
  // completions prompt is the contents concatenated in order (see text()).
  std::vector<Message> messages;
  uint32_t input_tokens = 0;  // tokens of text() under the workload's TokenCounter
  uint32_t max_tokens = 0;    // requested output length
  uint32_t group = 0;
  uint32_t session = 0;  // user within the group
  uint32_t turn = 0;

  std::string text() const;
};

struct Workload {
  WorkloadSpec spec;
  std::string tokenizer;        // TokenCounter::name() the lengths were measured with
  std::vector<Prompt> prompts;  // in send order; the runner cycles through them
};

Result<Workload> build_workload(const WorkloadSpec& spec, const TokenCounter& counter);

}  // namespace llmd::loadgen

#include "loadgen/workload.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace llmd::loadgen {

std::string_view to_string(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kSharedPrefix:
      return "shared_prefix";
    case WorkloadKind::kRandom:
      return "random";
    case WorkloadKind::kChatbot:
      return "chatbot";
    case WorkloadKind::kCodeCompletion:
      return "code_completion";
    case WorkloadKind::kSummarization:
      return "summarization";
  }
  return "shared_prefix";
}

Result<WorkloadKind> parse_workload_kind(std::string_view name) {
  for (auto k : {WorkloadKind::kSharedPrefix, WorkloadKind::kRandom, WorkloadKind::kChatbot,
                 WorkloadKind::kCodeCompletion, WorkloadKind::kSummarization}) {
    if (name == to_string(k)) return k;
  }
  return make_error(ErrorCode::kConfig,
                    fmt::format("workload: unknown '{}' (expected shared_prefix, random, chatbot, "
                                "code_completion or summarization)",
                                name));
}

RandomSpec synthetic_profile(WorkloadKind kind) {
  RandomSpec r;
  switch (kind) {
    case WorkloadKind::kChatbot:
      r.input = LengthDistribution::normal(4096, 2048, 10, 8192);
      r.output = LengthDistribution::normal(1024, 512, 10, 2048);
      break;
    case WorkloadKind::kCodeCompletion:
      r.input = LengthDistribution::normal(2048, 1024, 10, 4096);
      r.output = LengthDistribution::normal(128, 64, 10, 256);
      break;
    case WorkloadKind::kSummarization:
      r.input = LengthDistribution::normal(2048, 1024, 10, 4096);
      r.output = LengthDistribution::normal(256, 128, 10, 512);
      break;
    default:
      return RandomSpec{};
  }
  r.num_prompts = 1000;
  return r;
}

Result<void> WorkloadSpec::validate() const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kConfig, std::move(m)); };
  if (kind == WorkloadKind::kSharedPrefix) {
    const auto& s = shared_prefix;
    if (s.num_groups == 0) return bad("workload.shared_prefix.num_groups: must be at least 1");
    if (s.prompts_per_group == 0) return bad("workload.shared_prefix.prompts_per_group: must be at least 1");
    if (s.question_len == 0) return bad("workload.shared_prefix.question_len: must be at least 1");
    if (s.output_len == 0) return bad("workload.shared_prefix.output_len: must be at least 1");
    if (s.turns == 0) return bad("workload.shared_prefix.turns: must be at least 1");
    const uint64_t per_prompt =
        s.system_prompt_len + static_cast<uint64_t>(s.turns) * (s.question_len + s.output_len);
    if (per_prompt > 2'000'000) return bad("workload.shared_prefix: a prompt would exceed 2,000,000 tokens");
    const uint64_t prompts = static_cast<uint64_t>(s.num_groups) * s.prompts_per_group * s.turns;
    if (prompts > 1'000'000) return bad("workload.shared_prefix: more than 1,000,000 prompts");
    return {};
  }
  if (random.num_prompts == 0) return bad("workload.random.num_prompts: must be at least 1");
  if (random.num_prompts > 1'000'000) return bad("workload.random.num_prompts: at most 1,000,000");
  if (auto v = random.input.validate("workload.random.input"); !v) return v;
  if (auto v = random.output.validate("workload.random.output"); !v) return v;
  if (random.input.max > 2'000'000) return bad("workload.random.input.max: at most 2,000,000 tokens");
  if (random.output.min == 0) return bad("workload.random.output.min: must be at least 1");
  return {};
}

std::string Prompt::text() const {
  size_t n = 0;
  for (const auto& m : messages) n += m.content.size();
  std::string out;
  out.reserve(n);
  for (const auto& m : messages) out += m.content;
  return out;
}

namespace {

// A stream of words seeded per purpose, so changing one group's size does not move another's text.
Rng stream_rng(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  Rng mix(seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (c * 0x165667B19E3779F9ull));
  return Rng(mix());
}

// Appends `tokens` tokens to `text` and returns the appended piece.
std::string extend(const PromptBuilder& builder, std::string& text, uint32_t tokens, Rng& rng) {
  const size_t before = text.size();
  builder.append(text, tokens, rng);
  return text.substr(before);
}

template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

Workload build_shared_prefix(const WorkloadSpec& spec, const TokenCounter& counter) {
  const auto& s = spec.shared_prefix;
  const PromptBuilder builder(counter);
  Workload w;
  w.spec = spec;
  w.tokenizer = std::string(counter.name());
  // turn-major: every session's turn t comes before any session's turn t+1.
  std::vector<std::vector<Prompt>> by_turn(s.turns);
  for (uint32_t g = 0; g < s.num_groups; ++g) {
    Rng sys_rng = stream_rng(spec.seed, 1, g, 0);
    std::string system;
    builder.append(system, s.system_prompt_len, sys_rng);
    for (uint32_t u = 0; u < s.prompts_per_group; ++u) {
      Rng rng = stream_rng(spec.seed, 2, g, u);
      std::string history = system;
      std::vector<Message> messages;
      if (!system.empty()) messages.push_back({"system", system});
      for (uint32_t t = 0; t < s.turns; ++t) {
        messages.push_back({"user", extend(builder, history, s.question_len, rng)});
        Prompt p;
        p.messages = messages;
        p.input_tokens = static_cast<uint32_t>(counter.count(history));
        p.max_tokens = s.output_len;
        p.group = g;
        p.session = u;
        p.turn = t;
        by_turn[t].push_back(std::move(p));
        if (t + 1 < s.turns) messages.push_back({"assistant", extend(builder, history, s.output_len, rng)});
      }
    }
  }
  Rng order = stream_rng(spec.seed, 3, 0, 0);
  for (auto& turn : by_turn) {
    shuffle(turn, order);
    for (auto& p : turn) w.prompts.push_back(std::move(p));
  }
  return w;
}

Workload build_random(const WorkloadSpec& spec, const TokenCounter& counter) {
  const PromptBuilder builder(counter);
  Workload w;
  w.spec = spec;
  w.tokenizer = std::string(counter.name());
  Rng lengths = stream_rng(spec.seed, 4, 0, 0);
  w.prompts.reserve(spec.random.num_prompts);
  for (uint32_t i = 0; i < spec.random.num_prompts; ++i) {
    Prompt p;
    const uint32_t in = spec.random.input.sample(lengths);
    p.max_tokens = std::max<uint32_t>(1, spec.random.output.sample(lengths));
    Rng rng = stream_rng(spec.seed, 5, i, 0);
    std::string text;
    builder.append(text, in, rng);
    p.input_tokens = static_cast<uint32_t>(counter.count(text));
    p.messages.push_back({"user", std::move(text)});
    p.session = i;
    w.prompts.push_back(std::move(p));
  }
  return w;
}

}  // namespace

Result<Workload> build_workload(const WorkloadSpec& spec, const TokenCounter& counter) {
  if (auto v = spec.validate(); !v) return v.error();
  if (spec.kind == WorkloadKind::kSharedPrefix) return build_shared_prefix(spec, counter);
  return build_random(spec, counter);
}

}  // namespace llmd::loadgen

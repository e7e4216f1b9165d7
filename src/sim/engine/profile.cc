#include "sim/engine/profile.h"

#include <cmath>
#include <filesystem>

#include "config/config.h"

namespace llmd::sim {

struct BuiltinProfile {
  const char* name;
  const char* yaml;
};
// Generated from profiles/*.yaml by embed_profiles.cmake.
extern const BuiltinProfile kBuiltinProfiles[];
extern const size_t kBuiltinProfileCount;

void decode(config::MapReader& m, StepCost& s) {
  m.read("base_ms", s.base_ms);
  m.read("prefill_base_ms", s.prefill_base_ms);
  m.read("per_prefill_token_us", s.per_prefill_token_us);
  m.read("per_decode_seq_us", s.per_decode_seq_us);
  m.read("per_context_token_ns", s.per_context_token_ns);
  for (auto [key, v] : {std::pair{"base_ms", s.base_ms},
                        {"prefill_base_ms", s.prefill_base_ms},
                        {"per_prefill_token_us", s.per_prefill_token_us},
                        {"per_decode_seq_us", s.per_decode_seq_us},
                        {"per_context_token_ns", s.per_context_token_ns}}) {
    if (!(v >= 0) || !std::isfinite(v)) m.error(key, "must be a finite number >= 0");
  }
}

void decode(config::MapReader& m, Profile& p) {
  m.require("name", p.name);
  m.read("description", p.description);
  m.require("model", p.model);
  m.require("step", p.step);
  m.require("kv_cache_tokens", p.kv_cache_tokens);
  m.require("kv_bytes_per_token", p.kv_bytes_per_token);
  m.require("kv_link_gbytes_per_s", p.kv_link_gbytes_per_s);
  m.require("max_model_len", p.max_model_len);
  m.read("tensor_parallel_size", p.tensor_parallel_size);
  if (p.kv_cache_tokens == 0) m.error("kv_cache_tokens", "must be > 0");
  if (p.max_model_len == 0) m.error("max_model_len", "must be > 0");
  if (!(p.kv_link_gbytes_per_s > 0) || !std::isfinite(p.kv_link_gbytes_per_s)) {
    m.error("kv_link_gbytes_per_s", "must be a finite number > 0");
  }
  if (p.tensor_parallel_size == 0) m.error("tensor_parallel_size", "must be > 0");
}

Nanos Profile::step_time(const BatchShape& b) const {
  double ns = step.base_ms * 1e6;
  if (b.prefill_tokens > 0) ns += step.prefill_base_ms * 1e6;
  ns += step.per_prefill_token_us * 1e3 * static_cast<double>(b.prefill_tokens);
  ns += step.per_decode_seq_us * 1e3 * static_cast<double>(b.decode_seqs);
  ns += step.per_context_token_ns * static_cast<double>(b.context_tokens);
  return Nanos{static_cast<int64_t>(std::llround(ns))};
}

Nanos Profile::transfer_time(uint64_t tokens) const {
  const double bytes = static_cast<double>(kv_bytes_per_token) * static_cast<double>(tokens);
  return Nanos{static_cast<int64_t>(std::llround(bytes / kv_link_gbytes_per_s))};  // GB/s = bytes/ns
}

Result<Profile> parse_profile(std::string_view yaml, std::string_view source_name) {
  return config::load_text<Profile>(yaml, source_name);
}

Result<Profile> builtin_profile(std::string_view name) {
  for (size_t i = 0; i < kBuiltinProfileCount; ++i) {
    if (name == kBuiltinProfiles[i].name) {
      return parse_profile(kBuiltinProfiles[i].yaml,
                           std::string("profiles/") + kBuiltinProfiles[i].name + ".yaml");
    }
  }
  std::string known;
  for (const auto& n : builtin_profile_names()) known += (known.empty() ? "" : ", ") + n;
  return make_error(ErrorCode::kNotFound,
                    "unknown profile '" + std::string(name) + "' (built in: " + known + ")");
}

std::vector<std::string> builtin_profile_names() {
  std::vector<std::string> out;
  for (size_t i = 0; i < kBuiltinProfileCount; ++i) out.emplace_back(kBuiltinProfiles[i].name);
  return out;
}

Result<Profile> load_profile(const std::string& name_or_path) {
  std::error_code ec;
  if (name_or_path.find('/') != std::string::npos || std::filesystem::is_regular_file(name_or_path, ec)) {
    auto node = config::load_file(name_or_path);
    if (!node) return node.error();
    return config::decode<Profile>(*node);
  }
  return builtin_profile(name_or_path);
}

}  // namespace llmd::sim

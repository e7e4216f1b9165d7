#include "sim/engine/profile.h"

#include <gtest/gtest.h>

namespace llmd::sim {
namespace {

using std::chrono::milliseconds;

TEST(ProfileTest, BuiltinsLoad) {
  const auto names = builtin_profile_names();
  for (const char* want : {"instant", "llama3-8b-h100", "qwen3-32b-h100-tp2", "gpt-oss-120b-h200"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
    auto p = builtin_profile(want);
    ASSERT_TRUE(p.has_value()) << want << ": " << p.error().message;
    EXPECT_EQ(p->name, want);
  }
  EXPECT_EQ(builtin_profile("nope").error().code, ErrorCode::kNotFound);
}

TEST(ProfileTest, CalibrationFigures) {
  // qwen3-32b-h100-tp2: 307,328 KV tokens; one 8192-token prefill chunk at ~15,928 tok/s.
  auto q = builtin_profile("qwen3-32b-h100-tp2").value();
  EXPECT_EQ(q.kv_cache_tokens, 307328u);
  const double chunk_s = to_seconds(q.step_time({8192, 0, 8192}));
  EXPECT_NEAR(8192 / chunk_s, 15928, 15928 * 0.01);
  // llama3-8b-h100: TTFT = 30 ms + 250 µs/token alone; ITL about 12 ms.
  auto l = builtin_profile("llama3-8b-h100").value();
  EXPECT_NEAR(to_seconds(l.step_time({1000, 0, 1000})), 0.030 + 0.250, 0.001);
  EXPECT_NEAR(to_seconds(l.step_time({0, 1, 1000})), 0.012, 0.0005);
  EXPECT_NEAR(to_seconds(l.transfer_time(1000)), 0.003, 0.0001);
  // gpt-oss-120b-h200: ~33,821 tok/s peak prefill.
  auto g = builtin_profile("gpt-oss-120b-h200").value();
  EXPECT_NEAR(8192 / to_seconds(g.step_time({8192, 0, 8192})), 33821, 33821 * 0.01);
}

TEST(ProfileTest, StepTimeFormula) {
  Profile p;
  p.step = {1.0, 2.0, 3.0, 4.0, 5.0};
  // 1 ms + 2 ms (prefill present) + 10 × 3 µs + 2 × 4 µs + 100 × 5 ns.
  EXPECT_EQ(p.step_time({10, 2, 100}), std::chrono::nanoseconds(3'000'000 + 30'000 + 8'000 + 500));
  EXPECT_EQ(p.step_time({0, 2, 100}), std::chrono::nanoseconds(1'000'000 + 8'000 + 500));
}

TEST(ProfileTest, StrictParsingNamesThePath) {
  auto bad = parse_profile(
      "name: x\nmodel: m\nstep: {base_ms: fast}\nkv_cache_tokens: 1\nkv_bytes_per_token: 1\n"
      "kv_link_gbytes_per_s: 1\nmax_model_len: 10\n",
      "p.yaml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("step.base_ms"), std::string::npos) << bad.error().message;
  auto unknown = parse_profile(
      "name: x\nmodel: m\nstep: {}\nkv_cache_tokens: 1\nkv_bytes_per_token: 1\n"
      "kv_link_gbytes_per_s: 1\nmax_model_len: 10\ncolour: red\n",
      "p.yaml");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos) << unknown.error().message;
  auto negative = parse_profile(
      "name: x\nmodel: m\nstep: {base_ms: -1}\nkv_cache_tokens: 1\nkv_bytes_per_token: 1\n"
      "kv_link_gbytes_per_s: 1\nmax_model_len: 10\n",
      "p.yaml");
  ASSERT_FALSE(negative.has_value());
  EXPECT_NE(negative.error().message.find("step.base_ms: must be"), std::string::npos)
      << negative.error().message;
}

}  // namespace
}  // namespace llmd::sim

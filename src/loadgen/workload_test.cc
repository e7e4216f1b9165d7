#include "loadgen/workload.h"

#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

WorkloadSpec shared(uint32_t groups, uint32_t per_group, uint32_t turns = 1) {
  WorkloadSpec s;
  s.kind = WorkloadKind::kSharedPrefix;
  s.shared_prefix = {groups, per_group, 64, 16, 8, turns};
  s.seed = 11;
  return s;
}

TEST(Workload, SharedPrefixGroupsShareAnExactPrefix) {
  CharsPerTokenCounter counter;
  auto w = build_workload(shared(4, 5), counter);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->prompts.size(), 20u);
  std::map<uint32_t, std::string> system_by_group;
  std::map<uint32_t, int> per_group;
  for (const auto& p : w->prompts) {
    ASSERT_EQ(p.messages.size(), 2u);
    EXPECT_EQ(p.messages[0].role, "system");
    EXPECT_EQ(p.messages[1].role, "user");
    EXPECT_EQ(counter.count(p.messages[0].content), 64u);
    EXPECT_EQ(p.input_tokens, 80u);
    EXPECT_EQ(counter.count(p.text()), 80u);
    EXPECT_EQ(p.max_tokens, 8u);
    // The completions prompt starts with the exact system prompt text.
    EXPECT_EQ(p.text().substr(0, p.messages[0].content.size()), p.messages[0].content);
    auto [it, fresh] = system_by_group.emplace(p.group, p.messages[0].content);
    if (!fresh) {
      EXPECT_EQ(it->second, p.messages[0].content) << "group " << p.group;
    }
    ++per_group[p.group];
  }
  ASSERT_EQ(system_by_group.size(), 4u);
  for (const auto& [g, n] : per_group) EXPECT_EQ(n, 5) << g;
  // Different groups do not share their prefix, and questions differ within a group.
  std::set<std::string> systems, questions;
  for (const auto& [g, s] : system_by_group) systems.insert(s.substr(0, 64));
  EXPECT_EQ(systems.size(), 4u);
  for (const auto& p : w->prompts) questions.insert(p.messages[1].content);
  EXPECT_EQ(questions.size(), 20u);
}

TEST(Workload, SharedPrefixIsDeterministicPerSeed) {
  CharsPerTokenCounter counter;
  auto a = build_workload(shared(3, 3), counter);
  auto b = build_workload(shared(3, 3), counter);
  auto spec = shared(3, 3);
  spec.seed = 12;
  auto c = build_workload(spec, counter);
  ASSERT_TRUE(a && b && c);
  for (size_t i = 0; i < a->prompts.size(); ++i) EXPECT_EQ(a->prompts[i].text(), b->prompts[i].text());
  EXPECT_NE(a->prompts[0].messages[0].content, c->prompts[0].messages[0].content);
}

TEST(Workload, MultiTurnAccumulatesHistoryTurnByTurn) {
  CharsPerTokenCounter counter;
  auto w = build_workload(shared(2, 3, 3), counter);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->prompts.size(), 18u);
  std::map<std::pair<uint32_t, uint32_t>, std::string> last_text;
  uint32_t prev_turn = 0;
  for (const auto& p : w->prompts) {
    EXPECT_GE(p.turn, prev_turn) << "prompts are turn-major";
    prev_turn = p.turn;
    // system + turn * (question + answer) + question
    EXPECT_EQ(p.input_tokens, 64u + p.turn * (16u + 8u) + 16u);
    EXPECT_EQ(p.messages.size(), 2u + 2u * p.turn);
    if (p.turn > 0) {
      EXPECT_EQ(p.messages[p.messages.size() - 2].role, "assistant");
    }
    const std::string text = p.text();
    auto key = std::make_pair(p.group, p.session);
    if (p.turn > 0) {
      const std::string& before = last_text.at(key);
      EXPECT_EQ(text.substr(0, before.size()), before) << "turn " << p.turn << " extends turn " << p.turn - 1;
    }
    last_text[key] = text;
  }
}

TEST(Workload, RandomLengthsFollowTheDistributions) {
  CharsPerTokenCounter counter;
  WorkloadSpec spec;
  spec.kind = WorkloadKind::kRandom;
  spec.random.input = LengthDistribution::normal(300, 60, 1, 10'000);
  spec.random.output = LengthDistribution::uniform(10, 30);
  spec.random.num_prompts = 3000;
  auto w = build_workload(spec, counter);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->prompts.size(), 3000u);
  double in_sum = 0, in_sq = 0, out_sum = 0;
  uint32_t out_min = UINT32_MAX, out_max = 0;
  for (const auto& p : w->prompts) {
    EXPECT_EQ(counter.count(p.text()), p.input_tokens);
    in_sum += p.input_tokens;
    in_sq += static_cast<double>(p.input_tokens) * p.input_tokens;
    out_sum += p.max_tokens;
    out_min = std::min(out_min, p.max_tokens);
    out_max = std::max(out_max, p.max_tokens);
  }
  const double n = 3000;
  const double mean = in_sum / n;
  const double sd = std::sqrt(in_sq / n - mean * mean);
  // Standard error of the mean is 60/sqrt(3000) ~ 1.1 tokens.
  EXPECT_NEAR(mean, 300.0, 5.0);
  EXPECT_NEAR(sd, 60.0, 4.0);
  EXPECT_NEAR(out_sum / n, 20.0, 0.5);
  EXPECT_EQ(out_min, 10u);
  EXPECT_EQ(out_max, 30u);
}

TEST(Workload, SyntheticProfilesHaveLlmdBenchmarkShapes) {
  auto chat = synthetic_profile(WorkloadKind::kChatbot);
  EXPECT_EQ(chat.input.mean, 4096);
  EXPECT_EQ(chat.input.stddev, 2048);
  EXPECT_EQ(chat.input.min, 10u);
  EXPECT_EQ(chat.input.max, 8192u);
  EXPECT_EQ(chat.output.mean, 1024);
  auto code = synthetic_profile(WorkloadKind::kCodeCompletion);
  EXPECT_EQ(code.input.mean, 2048);
  EXPECT_EQ(code.output.mean, 128);
  EXPECT_EQ(code.output.max, 256u);
  auto sum = synthetic_profile(WorkloadKind::kSummarization);
  EXPECT_EQ(sum.output.mean, 256);
  EXPECT_EQ(sum.output.max, 512u);
}

TEST(Workload, RejectsInvalidSpecs) {
  CharsPerTokenCounter counter;
  auto spec = shared(0, 3);
  auto r = build_workload(spec, counter);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("num_groups"), std::string::npos);
  EXPECT_FALSE(parse_workload_kind("nope"));
  EXPECT_EQ(*parse_workload_kind("code_completion"), WorkloadKind::kCodeCompletion);
}

}  // namespace
}  // namespace llmd::loadgen

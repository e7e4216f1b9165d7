#include "loadgen/sim_token_counter.h"

#include <gtest/gtest.h>

#include "loadgen/workload.h"

namespace llmd::loadgen {
namespace {

TEST(SimTokenCounter, BuilderWordsAreOneSimTokenEach) {
  SimTokenCounter sim;
  CharsPerTokenCounter four;
  Rng a(5), b(5);
  std::string x, y;
  EXPECT_EQ(PromptBuilder(sim).append(x, 777, a), 777u);
  EXPECT_EQ(sim.count(x), 777u);
  // The same words measure the same under the 4-chars-per-token rule.
  PromptBuilder(four).append(y, 777, b);
  EXPECT_EQ(x, y);
}

TEST(SimTokenCounter, SharedPrefixLengthsAreExactInSimTokens) {
  SimTokenCounter sim;
  WorkloadSpec spec;
  spec.shared_prefix = {3, 2, 100, 20, 4, 2};
  auto w = build_workload(spec, sim);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->tokenizer, "llmd-sim-pseudo");
  for (const auto& p : w->prompts) {
    EXPECT_EQ(sim.count(p.text()), p.input_tokens);
    EXPECT_EQ(p.input_tokens, 100u + p.turn * 24u + 20u);
  }
}

}  // namespace
}  // namespace llmd::loadgen

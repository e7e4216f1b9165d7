#include "sched/plugins/weighted-random-picker/weighted_random_picker.h"

#include <map>

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::map<uint32_t, int> draw(const std::vector<double>& scores, int trials) {
  auto eps = testing::endpoints(scores.size());
  std::map<uint32_t, int> wins;
  for (int t = 1; t <= trials; ++t) {
    testing::Cycle cycle(eps, {}, static_cast<uint64_t>(t));
    WeightedRandomPicker p({"weighted-random-picker", "w"}, {});
    std::vector<ScoredCandidate> in;
    for (size_t i = 0; i < scores.size(); ++i) in.push_back({cycle.candidates()[i], scores[i]});
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    EXPECT_EQ(out.size(), 1u);
    ++wins[out[0].candidate.index];
  }
  return wins;
}

TEST(WeightedRandomPickerTest, ProportionalToScore) {
  // A-Res with one pick: P(i) = w_i / Σw → 1/6, 2/6, 3/6.
  auto wins = draw({1.0, 2.0, 3.0}, 6000);
  EXPECT_NEAR(wins[0], 1000, 120);
  EXPECT_NEAR(wins[1], 2000, 150);
  EXPECT_NEAR(wins[2], 3000, 150);
}

TEST(WeightedRandomPickerTest, ZeroScoresNeverWinWhileOthersArePositive) {
  auto wins = draw({0.0, 1.0, 0.0}, 500);
  EXPECT_EQ(wins[1], 500);
}

TEST(WeightedRandomPickerTest, AllZeroFallsBackToUniform) {
  auto wins = draw({0.0, 0.0}, 2000);
  EXPECT_GT(wins[0], 850);
  EXPECT_GT(wins[1], 850);
}

TEST(WeightedRandomPickerTest, SeveralEndpointsZeroScoresLast) {
  auto eps = testing::endpoints(3);
  testing::Cycle cycle(eps, {}, 5);
  WeightedRandomPicker p({"weighted-random-picker", "w"}, WeightedRandomPickerParams{3});
  std::vector<ScoredCandidate> in = {
      {cycle.candidates()[0], 0.0}, {cycle.candidates()[1], 0.5}, {cycle.candidates()[2], 0.7}};
  std::vector<ScoredCandidate> out;
  p.pick(cycle.ctx(), in, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].candidate.index, 0u);
}

}  // namespace
}  // namespace llmd::sched::plugins

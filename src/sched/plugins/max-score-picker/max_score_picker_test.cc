#include "sched/plugins/max-score-picker/max_score_picker.h"

#include <map>

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::vector<ScoredCandidate> scored(const testing::Cycle& c, std::vector<double> scores) {
  std::vector<ScoredCandidate> out;
  for (size_t i = 0; i < scores.size(); ++i) out.push_back(ScoredCandidate{c.candidates()[i], scores[i]});
  return out;
}

TEST(MaxScorePickerTest, PicksTheHighestScores) {
  struct Case {
    int64_t n;
    std::vector<double> scores;
    std::vector<uint32_t> want;  // candidate indices, best first
  };
  const Case cases[] = {
      {1, {0.1, 0.9, 0.5}, {1}},
      {2, {0.1, 0.9, 0.5}, {1, 2}},
      {3, {0.1, 0.9, 0.5}, {1, 2, 0}},
      {5, {0.3, 0.2}, {0, 1}},
  };
  for (const auto& c : cases) {
    testing::Cycle cycle(testing::endpoints(c.scores.size()));
    MaxScorePicker p({"max-score-picker", "m"}, MaxScorePickerParams{c.n});
    auto in = scored(cycle, c.scores);
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    std::vector<uint32_t> got;
    for (const auto& s : out) got.push_back(s.candidate.index);
    EXPECT_EQ(got, c.want);
  }
}

TEST(MaxScorePickerTest, TiesAreBrokenUniformlyAtRandom) {
  // Three endpoints tie at the top; over many seeds each wins about a third of the time.
  auto eps = testing::endpoints(4);
  std::map<uint32_t, int> wins;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    testing::Cycle cycle(eps, {}, seed);
    MaxScorePicker p({"max-score-picker", "m"}, {});
    auto in = scored(cycle, {2.0, 2.0, 1.0, 2.0});
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    ASSERT_EQ(out.size(), 1u);
    ++wins[out[0].candidate.index];
  }
  EXPECT_EQ(wins.count(2), 0u);
  for (uint32_t i : {0u, 1u, 3u}) {
    EXPECT_GT(wins[i], 850) << i;
    EXPECT_LT(wins[i], 1150) << i;
  }
}

TEST(MaxScorePickerTest, SameSeedSameChoice) {
  auto eps = testing::endpoints(5);
  auto run = [&](uint64_t seed) {
    testing::Cycle cycle(eps, {}, seed);
    MaxScorePicker p({"max-score-picker", "m"}, {});
    auto in = scored(cycle, {1, 1, 1, 1, 1});
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    return out[0].candidate.index;
  };
  EXPECT_EQ(run(42), run(42));
}

TEST(MaxScorePickerTest, Validation) {
  auto node = config::parse("{maxNumOfEndpoints: 0}");
  ASSERT_TRUE(node);
  auto r = create_max_score_picker(PluginArgs{{"max-score-picker", "m"}, *node});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("maxNumOfEndpoints: must be >= 1"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

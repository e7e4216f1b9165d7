#include "sched/plugins/random-picker/random_picker.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(RandomPickerTest, IgnoresScoresAndSpreadsUniformly) {
  auto eps = testing::endpoints(3);
  std::map<uint32_t, int> wins;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    testing::Cycle cycle(eps, {}, seed);
    RandomPicker p({"random-picker", "r"}, {});
    std::vector<ScoredCandidate> in = {
        {cycle.candidates()[0], 100.0}, {cycle.candidates()[1], 0.0}, {cycle.candidates()[2], 0.0}};
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    ASSERT_EQ(out.size(), 1u);
    ++wins[out[0].candidate.index];
  }
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_GT(wins[i], 850) << i;
    EXPECT_LT(wins[i], 1150) << i;
  }
}

TEST(RandomPickerTest, ReturnsDistinctEndpoints) {
  auto eps = testing::endpoints(4);
  testing::Cycle cycle(eps, {}, 9);
  RandomPicker p({"random-picker", "r"}, RandomPickerParams{3});
  std::vector<ScoredCandidate> in;
  for (const auto& c : cycle.candidates()) in.push_back({c, 0.0});
  std::vector<ScoredCandidate> out;
  p.pick(cycle.ctx(), in, out);
  std::set<uint32_t> got;
  for (const auto& s : out) got.insert(s.candidate.index);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(got.size(), 3u);
}

}  // namespace
}  // namespace llmd::sched::plugins

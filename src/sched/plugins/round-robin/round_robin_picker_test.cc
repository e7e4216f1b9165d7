#include "sched/plugins/round-robin/round_robin_picker.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(RoundRobinPickerTest, TakesTurnsIgnoringScores) {
  auto eps = testing::endpoints(3);
  RoundRobinPicker p({"round-robin", "rr"}, {});
  std::vector<uint32_t> got;
  for (int i = 0; i < 7; ++i) {
    testing::Cycle cycle(eps);
    std::vector<ScoredCandidate> in = {
        {cycle.candidates()[0], 0.0}, {cycle.candidates()[1], 1.0}, {cycle.candidates()[2], 0.5}};
    std::vector<ScoredCandidate> out;
    p.pick(cycle.ctx(), in, out);
    ASSERT_EQ(out.size(), 1u);
    got.push_back(out[0].candidate.index);
  }
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobinPickerTest, FallbacksFollowInTurn) {
  auto eps = testing::endpoints(3);
  RoundRobinPicker p({"round-robin", "rr"}, RoundRobinPickerParams{2});
  testing::Cycle cycle(eps);
  std::vector<ScoredCandidate> in;
  for (const auto& c : cycle.candidates()) in.push_back({c, 0.0});
  std::vector<ScoredCandidate> out;
  p.pick(cycle.ctx(), in, out);
  p.pick(cycle.ctx(), in, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].candidate.index, 1u);
  EXPECT_EQ(out[1].candidate.index, 2u);
}

}  // namespace
}  // namespace llmd::sched::plugins

#include "sched/plugins/load-aware-scorer/load_aware_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(LoadAwareScorerTest, FormulaTable) {
  struct Case {
    int64_t waiting;
    int64_t threshold;
    double want;
  };
  const Case cases[] = {
      {0, 128, 0.5},   {32, 128, 0.375}, {64, 128, 0.25}, {127, 128, 0.5 / 128},
      {128, 128, 0.0}, {500, 128, 0.0},  {5, 10, 0.25},
  };
  for (const auto& c : cases) EXPECT_DOUBLE_EQ(load_aware_score(c.waiting, c.threshold), c.want) << c.waiting;
}

TEST(LoadAwareScorerTest, ScoresFromConfiguredThreshold) {
  auto node = config::parse("{threshold: 10}");
  ASSERT_TRUE(node);
  auto p = create_load_aware_scorer(PluginArgs{{"load-aware-scorer", "l"}, *node});
  ASSERT_TRUE(p) << p.error().message;
  auto eps = testing::endpoints(3);
  eps[0].metrics.waiting_queue_size = 0;
  eps[1].metrics.waiting_queue_size = 5;
  eps[2].metrics.waiting_queue_size = 10;
  testing::Cycle cycle(eps);
  auto got = cycle.score(*dynamic_cast<const Scorer*>(p->get()));
  EXPECT_EQ(got, (std::vector<double>{0.5, 0.25, 0.0}));
}

TEST(LoadAwareScorerTest, RejectsNonPositiveThreshold) {
  auto node = config::parse("{threshold: 0}");
  ASSERT_TRUE(node);
  auto p = create_load_aware_scorer(PluginArgs{{"load-aware-scorer", "l"}, *node});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("threshold: must be > 0"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

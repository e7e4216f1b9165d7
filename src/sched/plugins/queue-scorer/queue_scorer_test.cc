#include "sched/plugins/queue-scorer/queue_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(QueueScorerTest, MinMaxTable) {
  struct Case {
    std::vector<int64_t> queues;
    std::vector<double> want;
  };
  const Case cases[] = {
      {{0, 5, 10}, {1.0, 0.5, 0.0}},
      {{3, 3, 3}, {1.0, 1.0, 1.0}},
      {{2, 10}, {1.0, 0.0}},
      {{4}, {1.0}},
      {{1, 2, 3, 5}, {1.0, 0.75, 0.5, 0.0}},
  };
  for (const auto& c : cases) {
    auto eps = testing::endpoints(c.queues.size());
    for (size_t i = 0; i < eps.size(); ++i) eps[i].metrics.waiting_queue_size = c.queues[i];
    testing::Cycle cycle(eps);
    QueueScorer s({"queue-scorer", "queue-scorer"});
    auto got = cycle.score(s);
    ASSERT_EQ(got.size(), c.want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], c.want[i]) << i;
  }
}

TEST(QueueScorerTest, IsDistribution) {
  QueueScorer s({"queue-scorer", "q"});
  EXPECT_EQ(s.category(), ScorerCategory::kDistribution);
}

}  // namespace
}  // namespace llmd::sched::plugins

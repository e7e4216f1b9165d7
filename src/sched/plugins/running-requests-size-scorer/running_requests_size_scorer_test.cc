#include "sched/plugins/running-requests-size-scorer/running_requests_size_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(RunningRequestsSizeScorerTest, MinMaxTable) {
  struct Case {
    std::vector<int64_t> running;
    std::vector<double> want;
  };
  const Case cases[] = {
      {{4, 8, 12}, {1.0, 0.5, 0.0}},
      {{7, 7}, {1.0, 1.0}},
      {{0, 1, 4}, {1.0, 0.75, 0.0}},
  };
  for (const auto& c : cases) {
    auto eps = testing::endpoints(c.running.size());
    for (size_t i = 0; i < eps.size(); ++i) {
      eps[i].metrics.running_requests_size = c.running[i];
      eps[i].metrics.waiting_queue_size = 100 - static_cast<int64_t>(i);  // must not matter
    }
    testing::Cycle cycle(eps);
    RunningRequestsSizeScorer s({"running-requests-size-scorer", "r"});
    auto got = cycle.score(s);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], c.want[i]) << i;
  }
}

}  // namespace
}  // namespace llmd::sched::plugins

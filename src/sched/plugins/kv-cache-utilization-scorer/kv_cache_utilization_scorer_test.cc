#include "sched/plugins/kv-cache-utilization-scorer/kv_cache_utilization_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(KvCacheUtilizationScorerTest, OneMinusUsage) {
  const std::vector<double> usage = {0.0, 0.25, 0.9, 1.0};
  const std::vector<double> want = {1.0, 0.75, 0.1, 0.0};
  auto eps = testing::endpoints(usage.size());
  for (size_t i = 0; i < eps.size(); ++i) eps[i].metrics.kv_cache_usage = usage[i];
  testing::Cycle cycle(eps);
  KvCacheUtilizationScorer s({"kv-cache-utilization-scorer", "kv"});
  auto got = cycle.score(s);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
  EXPECT_EQ(s.category(), ScorerCategory::kDistribution);
}

}  // namespace
}  // namespace llmd::sched::plugins

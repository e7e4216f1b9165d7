#include "sched/plugins/token-load-scorer/token_load_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(TokenLoadScorerTest, Table) {
  struct Case {
    const char* params;
    std::vector<int64_t> tokens;
    std::vector<double> want;
  };
  const Case cases[] = {
      {"{}", {0, 4194304 / 4, 4194304, 9000000}, {1.0, 0.75, 0.0, 0.0}},
      {"{queueThresholdTokens: 1000}", {0, 250, 999, 1000}, {1.0, 0.75, 0.001, 0.0}},
  };
  for (const auto& c : cases) {
    auto node = config::parse(c.params);
    ASSERT_TRUE(node);
    auto p = create_token_load_scorer(PluginArgs{{"token-load-scorer", "t"}, *node});
    ASSERT_TRUE(p) << p.error().message;
    auto eps = testing::endpoints(c.tokens.size());
    testing::Cycle cycle(eps);
    auto data = std::make_shared<InflightData>();
    for (int64_t n : c.tokens) data->by_candidate.push_back(InflightLoad{1, n});
    cycle.state().put(std::string(kInflightLoadKey), data);
    auto got = cycle.score(*dynamic_cast<const Scorer*>(p->get()));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], c.want[i], 1e-12) << c.params << " " << i;
  }
}

TEST(TokenLoadScorerTest, RejectsZeroThreshold) {
  auto node = config::parse("{queueThresholdTokens: 0}");
  ASSERT_TRUE(node);
  auto p = create_token_load_scorer(PluginArgs{{"token-load-scorer", "t"}, *node});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("queueThresholdTokens: must be > 0"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

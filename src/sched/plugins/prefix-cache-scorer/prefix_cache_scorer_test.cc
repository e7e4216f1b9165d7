#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(PrefixCacheScorerTest, FormulaTable) {
  struct Case {
    double w;
    int64_t match, total, block;
    double want;
  };
  const Case cases[] = {
      {0.0, 0, 10, 64, 0.0},
      {0.0, 5, 10, 64, 0.5},
      {0.0, 10, 10, 64, 1.0},
      {0.0, 3, 0, 64, 0.0},  // TotalBlocks = 0
      // w = 0.5: lenScore = min(1, 64·64/8192)² = 0.25; ratio 0.64 → 0.125 + 0.32
      {0.5, 64, 100, 64, 0.445},
      // lenScore saturates at 1 beyond 8192 tokens.
      {1.0, 200, 400, 64, 1.0},
      {0.25, 32, 32, 64, 0.25 * 0.0625 + 0.75},
  };
  for (const auto& c : cases) {
    PrefixCacheScorerParams p;
    p.match_length_weight = c.w;
    EXPECT_NEAR(prefix_cache_score(PrefixCacheMatchInfo{c.match, c.total, c.block, c.match}, p), c.want,
                1e-12)
        << c.w << " " << c.match << "/" << c.total;
  }
}

TEST(PrefixCacheScorerTest, ReadsTheNamedProducer) {
  auto node = config::parse("{prefixMatchInfoProducerName: precise}");
  ASSERT_TRUE(node);
  auto p = create_prefix_cache_scorer(PluginArgs{{"prefix-cache-scorer", "s"}, *node});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ((*p)->consumes(), std::vector<std::string>{prefix_match_key("precise")});

  auto eps = testing::endpoints(2);
  testing::Cycle cycle(eps);
  auto data = std::make_shared<PrefixMatchData>();
  data->by_candidate = {PrefixCacheMatchInfo{1, 4, 64, 1}, PrefixCacheMatchInfo{4, 4, 64, 4}};
  cycle.state().put(prefix_match_key(kDefaultPrefixProducer), data);
  const auto& scorer = *dynamic_cast<const Scorer*>(p->get());
  EXPECT_EQ(cycle.score(scorer), (std::vector<double>{0.0, 0.0}));  // other producer's data is ignored
  cycle.state().put(prefix_match_key("precise"), data);
  EXPECT_EQ(cycle.score(scorer), (std::vector<double>{0.25, 1.0}));
  EXPECT_EQ(scorer.category(), ScorerCategory::kAffinity);
}

TEST(PrefixCacheScorerTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{matchLengthWeight: 1.5}", "matchLengthWeight: must be in [0, 1]"},
      {"{matchLengthScaleTokens: 0}", "matchLengthScaleTokens: must be > 0"},
      {"{prefixMatchInfoProducerName: \"\"}", "prefixMatchInfoProducerName: must not be empty"},
  };
  for (const auto& [yaml, want] : cases) {
    auto node = config::parse(yaml);
    ASSERT_TRUE(node);
    auto r = create_prefix_cache_scorer(PluginArgs{{"prefix-cache-scorer", "s"}, *node});
    ASSERT_FALSE(r) << yaml;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace llmd::sched::plugins

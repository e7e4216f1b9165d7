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

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml);
  if (!node) return node.error();
  return create_prefix_cache_scorer(PluginArgs{{"prefix-cache-scorer", "s"}, *node});
}

TEST(PrefixCacheScorerTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{matchLengthWeight: 1.5}", "matchLengthWeight: must be in [0, 1]"},
      {"{matchLengthScaleTokens: 0}", "matchLengthScaleTokens: must be > 0"},
      {"{prefixMatchInfoProducerName: \"\"}", "prefixMatchInfoProducerName: must not be empty"},
      {"{hashBlockSize: 0}", "hashBlockSize: must be > 0"},
      {"{hashBlockSize: -64}", "hashBlockSize: must be > 0"},
      {"{hashBlockSize: \"64\"}", "hashBlockSize: expected integer"},
  };
  testing::expect_parameter_errors(make, cases);
}

// The approximate producer's parameters, as older configs put them here, are carried for the loader.
TEST(PrefixCacheScorerTest, CarriesTheProducersParameters) {
  auto node = config::parse("{matchLengthWeight: 0.5, lruCapacityPerServer: 1000, hashBlockSize: 512}");
  ASSERT_TRUE(node);
  auto p = create_prefix_cache_scorer(PluginArgs{{"prefix-cache-scorer", "s"}, *node});
  ASSERT_TRUE(p) << p.error().message;
  const auto* carrier = dynamic_cast<const CarriesProducerParameters*>(p->get());
  ASSERT_NE(carrier, nullptr);
  const HandedOverParameters* h = carrier->handed_over_parameters();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->producer_type, "approx-prefix-cache-producer");
  EXPECT_EQ(h->producer_name, "approx-prefix-cache-producer");
  EXPECT_EQ(h->parameters.path(), node->path());
  ASSERT_EQ(h->parameters.yaml().size(), 2u);
  EXPECT_EQ(h->parameters.yaml()["lruCapacityPerServer"].Scalar(), "1000");
  EXPECT_EQ(h->parameters.yaml()["blockSizeTokens"].Scalar(), "128");  // 512 characters / 4

  auto plain = make("");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(dynamic_cast<const CarriesProducerParameters*>(plain->get())->handed_over_parameters(), nullptr);
}

}  // namespace
}  // namespace llmd::sched::plugins

#include "sched/plugins/no-hit-lru-scorer/no_hit_lru_scorer.h"

#include <gtest/gtest.h>

#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::shared_ptr<NoHitLruScorer> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  EXPECT_TRUE(node);
  auto p = create_no_hit_lru_scorer(PluginArgs{{"no-hit-lru-scorer", "n"}, *node});
  EXPECT_TRUE(p) << p.error().message;
  return std::dynamic_pointer_cast<NoHitLruScorer>(*p);
}

void put_matches(testing::Cycle& c, std::vector<int64_t> match) {
  auto d = std::make_shared<PrefixMatchData>();
  for (int64_t m : match) d->by_candidate.push_back(PrefixCacheMatchInfo{m, 4, 64, m});
  c.state().put(prefix_match_key(kDefaultPrefixProducer), d);
}

// Scores a cold request, then routes it to `target` (PreRequest).
std::vector<double> cold_round(const NoHitLruScorer& s, const std::vector<testing::TestEndpoint>& eps,
                               const std::string& target) {
  testing::Cycle c(eps);
  put_matches(c, std::vector<int64_t>(eps.size(), 0));
  auto scores = c.score(s);
  auto r = c.result({{"default", target}});
  s.pre_request(c.ctx(), r);
  return scores;
}

TEST(NoHitLruScorerTest, WarmRequestsAreNeutral) {
  auto s = make("{}");
  auto eps = testing::endpoints(3);
  testing::Cycle c(eps);
  put_matches(c, {0, 2, 0});
  EXPECT_EQ(c.score(*s), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(NoHitLruScorerTest, ColdRequestsRotateThroughLeastRecentlyUsed) {
  auto s = make("{}");
  auto eps = testing::endpoints(3);
  // Never used: candidate order, 1 − i/(N−1).
  EXPECT_EQ(cold_round(*s, eps, eps[0].id), (std::vector<double>{1.0, 0.5, 0.0}));
  // e0 used: the unused come first (e1, e2), then e0.
  EXPECT_EQ(cold_round(*s, eps, eps[1].id), (std::vector<double>{0.0, 1.0, 0.5}));
  EXPECT_EQ(cold_round(*s, eps, eps[2].id), (std::vector<double>{0.5, 0.0, 1.0}));
  // All used: least recent first (e0, e1, e2).
  EXPECT_EQ(cold_round(*s, eps, eps[0].id), (std::vector<double>{1.0, 0.5, 0.0}));
  EXPECT_EQ(cold_round(*s, eps, eps[1].id), (std::vector<double>{0.0, 1.0, 0.5}));
}

TEST(NoHitLruScorerTest, WarmRoutingDoesNotTouchTheLru) {
  auto s = make("{}");
  auto eps = testing::endpoints(2);
  testing::Cycle warm(eps);
  put_matches(warm, {1, 0});
  auto r = warm.result({{"default", eps[0].id}});
  s->pre_request(warm.ctx(), r);
  EXPECT_EQ(cold_round(*s, eps, eps[0].id), (std::vector<double>{1.0, 0.0}));
}

TEST(NoHitLruScorerTest, SingleEndpointAndLruSize) {
  auto s = make("{lruSize: 1}");
  auto one = testing::endpoints(1);
  EXPECT_EQ(cold_round(*s, one, one[0].id), (std::vector<double>{1.0}));
  auto eps = testing::endpoints(3);
  cold_round(*s, eps, eps[1].id);
  cold_round(*s, eps, eps[2].id);
  // Only e2 is remembered; e0 and e1 count as never used.
  EXPECT_EQ(cold_round(*s, eps, eps[0].id), (std::vector<double>{1.0, 0.5, 0.0}));
}

TEST(NoHitLruScorerTest, BindsToThePrefixScorersProducer) {
  auto s = make("{prefixPluginName: pfx}");
  auto node = config::parse("{prefixMatchInfoProducerName: other}");
  ASSERT_TRUE(node);
  auto prefix = create_prefix_cache_scorer(PluginArgs{{"prefix-cache-scorer", "pfx"}, *node});
  ASSERT_TRUE(prefix);
  const Plugin* pp = prefix->get();
  ASSERT_TRUE(s->bind([&](std::string_view n) { return n == "pfx" ? pp : nullptr; }));
  EXPECT_EQ(s->consumes(), std::vector<std::string>{prefix_match_key("other")});

  auto missing = s->bind([](std::string_view) -> const Plugin* { return nullptr; });
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("prefixPluginName: no plugin named \"pfx\""), std::string::npos);
  // The default name may be absent: the default producer is used.
  auto dflt = make("{}");
  EXPECT_TRUE(dflt->bind([](std::string_view) -> const Plugin* { return nullptr; }));
  EXPECT_EQ(dflt->consumes(), std::vector<std::string>{prefix_match_key(kDefaultPrefixProducer)});
}

}  // namespace
}  // namespace llmd::sched::plugins

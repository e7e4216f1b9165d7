#include "sched/plugins/prefix-cache-affinity-filter/prefix_cache_affinity_filter.h"

#include <gtest/gtest.h>

#include "sched/data.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  if (!node) return node.error();
  return create_prefix_cache_affinity_filter(PluginArgs{{"prefix-cache-affinity-filter", "f"}, *node});
}

struct Case {
  const char* name;
  const char* params;
  std::vector<int64_t> match;   // matched blocks of 10
  std::vector<int64_t> tokens;  // in-flight tokens
  std::vector<bool> keep;
};

TEST(PrefixCacheAffinityFilterTest, Table) {
  // peakPrefillThroughput 15928 tok/s: 15928 tokens in flight = 1000 ms of estimated TTFT.
  const Case cases[] = {
      {"sticky kept", "{}", {9, 5, 0}, {0, 0, 0}, {true, false, false}},
      {"threshold inclusive", "{}", {8, 7, 0}, {0, 0, 0}, {true, false, false}},
      {"no sticky keeps all", "{}", {7, 5, 0}, {0, 0, 0}, {true, true, true}},
      {"custom threshold", "{affinityThreshold: 0.5}", {7, 5, 0}, {0, 0, 0}, {true, true, false}},
      {"ttft penalty within 18 s", "{}", {10, 0, 0}, {15928 * 17, 0, 0}, {true, false, false}},
      {"ttft penalty exceeded", "{}", {10, 0, 0}, {15928 * 19, 0, 0}, {true, true, true}},
      {"penalty compares best of each side",
       "{}",
       {10, 10, 0},
       {15928 * 30, 15928, 15928 * 100},
       {true, true, false}},
      {"0 ms = always stick", "{maxTTFTPenaltyMs: 0}", {10, 0, 0}, {15928 * 100, 0, 0}, {true, false, false}},
      {"small penalty", "{maxTTFTPenaltyMs: 1000}", {10, 0, 0}, {15929, 0, 0}, {true, true, true}},
      {"token penalty",
       "{maxTTFTPenaltyMs: 0, maxTokensInFlightPenalty: 1000}",
       {10, 0, 0},
       {1001, 0, 0},
       {true, true, true}},
      {"token penalty within",
       "{maxTTFTPenaltyMs: 0, maxTokensInFlightPenalty: 1000}",
       {10, 0, 0},
       {1000, 0, 0},
       {true, false, false}},
      {"always explore", "{explorationProbability: 1}", {10, 0, 0}, {0, 0, 0}, {true, true, true}},
  };
  auto eps = testing::endpoints(3);
  for (const auto& c : cases) {
    auto p = make(c.params);
    ASSERT_TRUE(p) << c.name << ": " << p.error().message;
    testing::Cycle cycle(eps);
    auto prefix = std::make_shared<PrefixMatchData>();
    auto inflight = std::make_shared<InflightData>();
    for (size_t i = 0; i < 3; ++i) {
      prefix->by_candidate.push_back(PrefixCacheMatchInfo{c.match[i], 10, 64, c.match[i]});
      inflight->by_candidate.push_back(InflightLoad{0, c.tokens[i]});
    }
    cycle.state().put(prefix_match_key(kDefaultPrefixProducer), prefix);
    cycle.state().put(std::string(kInflightLoadKey), inflight);
    auto kept = cycle.filter(*dynamic_cast<const Filter*>(p->get()));
    std::vector<std::string> want;
    for (size_t i = 0; i < 3; ++i) {
      if (c.keep[i]) want.push_back(eps[i].id);
    }
    EXPECT_EQ(kept, want) << c.name;
  }
}

TEST(PrefixCacheAffinityFilterTest, ExplorationIsProbabilistic) {
  auto p = make("{explorationProbability: 0.5, maxTTFTPenaltyMs: 0}");
  ASSERT_TRUE(p);
  auto eps = testing::endpoints(2);
  int explored = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    testing::Cycle cycle(eps, {}, seed);
    auto prefix = std::make_shared<PrefixMatchData>();
    prefix->by_candidate = {PrefixCacheMatchInfo{4, 4, 64, 4}, PrefixCacheMatchInfo{0, 4, 64, 0}};
    cycle.state().put(prefix_match_key(kDefaultPrefixProducer), prefix);
    if (cycle.filter(*dynamic_cast<const Filter*>(p->get())).size() == 2) ++explored;
  }
  EXPECT_GT(explored, 60);
  EXPECT_LT(explored, 140);
}

TEST(PrefixCacheAffinityFilterTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{affinityThreshold: 0}", "affinityThreshold: must be in (0, 1]"},
      {"{explorationProbability: 2}", "explorationProbability: must be in [0, 1]"},
      {"{ttftSource: latencyPredictor}", "ttftSource: latencyPredictor is not supported"},
      {"{ttftSource: guess}", "ttftSource: unknown value"},
      {"{peakPrefillThroughput: 0}", "peakPrefillThroughput: must be > 0"},
      {"{maxTTFTPenaltyMs: 1.5}", "maxTTFTPenaltyMs"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins

#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"

#include <gtest/gtest.h>

#include "sched/plugins/token-producer/token_producer.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::shared_ptr<ApproxPrefixCacheProducer> make(std::string_view yaml, const Clock& clock) {
  auto node = config::parse(yaml, "t");
  EXPECT_TRUE(node);
  auto p = create_approx_prefix_cache_producer(
      PluginArgs{{"approx-prefix-cache-producer", "approx-prefix-cache-producer"}, *node, &clock});
  EXPECT_TRUE(p) << p.error().message;
  return std::dynamic_pointer_cast<ApproxPrefixCacheProducer>(*p);
}

LLMRequest prompt(size_t bytes, char fill = 'a') {
  LLMRequest r;
  r.model = "m";
  r.prompt = std::string(bytes, fill);
  return r;
}

// Runs token-producer then the approx producer; returns the match info.
std::shared_ptr<PrefixMatchData> produce(testing::Cycle& cycle, const ApproxPrefixCacheProducer& p) {
  TokenProducer tokens({"token-producer", "token-producer"}, {});
  tokens.produce(cycle.ctx());
  p.produce(cycle.ctx());
  return cycle.state().get<PrefixMatchData>(prefix_match_key("approx-prefix-cache-producer"));
}

TEST(ApproxPrefixCacheProducerTest, BlockSizeTable) {
  ManualClock clock;
  struct Case {
    const char* params;
    int64_t reported_block_size;
    int64_t want;
  };
  const Case cases[] = {
      {"{}", 0, 64},                   // default 16, floored at 64
      {"{}", 16, 64},                  // vLLM's 16, floored
      {"{}", 128, 128},                // auto-tuned
      {"{autoTune: false}", 128, 64},  // configured 16 → 64
      {"{blockSizeTokens: 256, autoTune: false}", 16, 256},
  };
  for (const auto& c : cases) {
    auto p = make(c.params, clock);
    Endpoint e;
    auto m = std::make_shared<EndpointMetrics>();
    m->cache_block_size = c.reported_block_size;
    e.metrics = m;
    EXPECT_EQ(p->block_size_for(&e), c.want) << c.params;
  }
}

TEST(ApproxPrefixCacheProducerTest, MaxBlocksTable) {
  ManualClock clock;
  EXPECT_EQ(make("{}", clock)->max_blocks_for(64), 2048u);  // 131072 / 64
  EXPECT_EQ(make("{maxPrefixTokensToMatch: 40960}", clock)->max_blocks_for(64), 640u);
  EXPECT_EQ(make("{maxPrefixTokensToMatch: 0}", clock)->max_blocks_for(64), 2048u);
  EXPECT_EQ(make("{maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 0}", clock)->max_blocks_for(64), 0u);
}

TEST(ApproxPrefixCacheProducerTest, LearnsFromRoutingDecisions) {
  ManualClock clock;
  auto p = make("{}", clock);
  auto eps = testing::endpoints(3);
  // 1000 bytes = 250 pseudo-tokens = 4 blocks of 64 (the last partial).
  testing::Cycle first(eps, prompt(1000));
  auto info = produce(first, *p);
  ASSERT_NE(info, nullptr);
  for (const auto& i : info->by_candidate) {
    EXPECT_EQ(i.total_blocks, 4);
    EXPECT_EQ(i.match_blocks, 0);
    EXPECT_EQ(i.block_size_tokens, 64);
  }
  auto result = first.result({{"default", eps[1].id}});
  p->pre_request(first.ctx(), result);

  // Same prompt: endpoint 1 holds all 4 blocks.
  testing::Cycle same(eps, prompt(1000));
  info = produce(same, *p);
  EXPECT_EQ(info->by_candidate[0].match_blocks, 0);
  EXPECT_EQ(info->by_candidate[1].match_blocks, 4);
  EXPECT_EQ(info->by_candidate[2].match_blocks, 0);

  // Shared first 600 bytes (2 full blocks of 256 bytes), then different.
  LLMRequest diverging = prompt(1000);
  for (size_t i = 600; i < 1000; ++i) diverging.prompt[i] = 'b';
  testing::Cycle partial(eps, diverging);
  info = produce(partial, *p);
  EXPECT_EQ(info->by_candidate[1].match_blocks, 2);

  // Another model or cache_salt shares nothing.
  LLMRequest salted = prompt(1000);
  salted.cache_salt = "tenant";
  testing::Cycle other(eps, salted);
  info = produce(other, *p);
  EXPECT_EQ(info->by_candidate[1].match_blocks, 0);
}

TEST(ApproxPrefixCacheProducerTest, RecordsPrefillProfileEndpointToo) {
  ManualClock clock;
  auto p = make("{}", clock);
  auto eps = testing::endpoints(3);
  testing::Cycle first(eps, prompt(300));
  produce(first, *p);
  auto result = first.result({{"decode", eps[0].id}, {"prefill", eps[2].id}});
  p->pre_request(first.ctx(), result);
  testing::Cycle again(eps, prompt(300));
  auto info = produce(again, *p);
  EXPECT_EQ(info->by_candidate[0].match_blocks, 2);
  EXPECT_EQ(info->by_candidate[1].match_blocks, 0);
  EXPECT_EQ(info->by_candidate[2].match_blocks, 2);
}

TEST(ApproxPrefixCacheProducerTest, LruCapacityFromNumGpuBlocks) {
  ManualClock clock;
  auto p = make("{}", clock);
  auto eps = testing::endpoints(2);
  eps[0].metrics.cache_num_gpu_blocks = 2;
  testing::Cycle first(eps, prompt(2048));  // 8 blocks
  produce(first, *p);
  auto result = first.result({{"default", eps[0].id}});
  p->pre_request(first.ctx(), result);
  testing::Cycle again(eps, prompt(2048));
  auto info = produce(again, *p);
  EXPECT_EQ(info->by_candidate[0].total_blocks, 8);
  EXPECT_EQ(info->by_candidate[0].match_blocks, 2);  // only the first two blocks fit
  EXPECT_EQ(p->index().stats().entries, 2u);
}

TEST(ApproxPrefixCacheProducerTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{blockSizeTokens: 0}", "blockSizeTokens: must be > 0"},
      {"{lruCapacityPerServer: -1}", "lruCapacityPerServer: must be > 0"},
      {"{hashBlockSize: 64}", "hashBlockSize: unknown field"},
      {"{blockSize: 64}",
       "blockSize: deprecated block size in characters; give blockSizeTokens (in tokens) instead"},
      {"{autoTune: yes}", "autoTune"},
  };
  ManualClock clock;
  for (const auto& [yaml, want] : cases) {
    auto node = config::parse(yaml, "t");
    ASSERT_TRUE(node);
    auto r =
        create_approx_prefix_cache_producer(PluginArgs{{"approx-prefix-cache-producer", "a"}, *node, &clock});
    ASSERT_FALSE(r) << yaml;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
  }
}

// GIE's character block size beside blockSizeTokens is ignored, as llm-d does.
TEST(ApproxPrefixCacheProducerTest, DeprecatedBlockSizeBesideBlockSizeTokensIsIgnored) {
  ManualClock clock;
  auto p = make("{blockSize: 512, blockSizeTokens: 128, autoTune: false}", clock);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->block_size_for(nullptr), 128);
}

TEST(ApproxPrefixCacheProducerTest, DescribesItsParameters) {
  ManualClock clock;
  auto p = make("{lruCapacityPerServer: 1000, autoTune: false, maxPrefixTokensToMatch: 4096}", clock);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->parameter_value("lruCapacityPerServer"), "1000");
  EXPECT_EQ(p->parameter_value("autoTune"), "false");
  EXPECT_EQ(p->parameter_value("maxPrefixTokensToMatch"), "4096");
  EXPECT_EQ(p->parameter_value("maxPrefixBlocksToMatch"), "2048");
  EXPECT_EQ(p->parameter_value("blockSizeTokens"), "16");
  EXPECT_EQ(p->parameter_value("blockSize"), std::nullopt);
}

}  // namespace
}  // namespace llmd::sched::plugins

#include "sched/plugins/inflight-load-producer/inflight_load_producer.h"

#include <gtest/gtest.h>

#include "sched/plugins/token-producer/token_producer.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::shared_ptr<InflightLoadProducer> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  EXPECT_TRUE(node);
  auto p =
      create_inflight_load_producer(PluginArgs{{"inflight-load-producer", "inflight-load-producer"}, *node});
  EXPECT_TRUE(p) << p.error().message;
  return std::dynamic_pointer_cast<InflightLoadProducer>(*p);
}

LLMRequest prompt_tokens(size_t tokens, int64_t max_tokens = -1) {
  LLMRequest r;
  r.prompt = std::string(tokens * 4, 'q');
  r.max_tokens = max_tokens;
  return r;
}

// Schedules onto `target` and returns the result (pre_request already run).
SchedulingResult dispatch(testing::Cycle& cycle, const InflightLoadProducer& p, const std::string& target) {
  TokenProducer({"token-producer", "token-producer"}, {}).produce(cycle.ctx());
  p.produce(cycle.ctx());
  auto result = cycle.result({{"default", target}});
  p.pre_request(cycle.ctx(), result);
  return result;
}

TEST(InflightLoadProducerTest, CountsUntilTheResponseEnds) {
  auto p = make("{}");
  auto eps = testing::endpoints(2);
  testing::Cycle c1(eps, prompt_tokens(100));
  auto r1 = dispatch(c1, *p, eps[0].id);
  testing::Cycle c2(eps, prompt_tokens(50));
  auto r2 = dispatch(c2, *p, eps[0].id);

  const uint64_t uid = r1.primary_endpoint()->uid;
  EXPECT_EQ(p->load_of(uid).requests, 2);
  EXPECT_EQ(p->load_of(uid).tokens, 150);

  // The next cycle sees it in its CycleState, per candidate.
  testing::Cycle c3(eps, prompt_tokens(1));
  p->produce(c3.ctx());
  auto data = c3.state().get<InflightData>(kInflightLoadKey);
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->by_candidate[0].requests, 2);
  EXPECT_EQ(data->by_candidate[0].tokens, 150);
  EXPECT_EQ(data->by_candidate[1].requests, 0);

  // First streamed chunk: prefill is over, prompt tokens are released; the request stays.
  p->on_response_streaming(c1.ctx().request, r1, ResponseChunk{true, 10});
  p->on_response_streaming(c1.ctx().request, r1, ResponseChunk{true, 10});  // idempotent
  EXPECT_EQ(p->load_of(uid).tokens, 50);
  EXPECT_EQ(p->load_of(uid).requests, 2);

  p->on_response_complete(c1.ctx().request, r1, ResponseCompletion{});
  p->on_response_complete(c1.ctx().request, r1, ResponseCompletion{});  // idempotent
  EXPECT_EQ(p->load_of(uid).requests, 1);
  EXPECT_EQ(p->load_of(uid).tokens, 50);

  // Non-streaming: everything released at completion.
  p->on_response_complete(c2.ctx().request, r2, ResponseCompletion{TerminationCause::kClientDisconnect});
  EXPECT_EQ(p->load_of(uid).requests, 0);
  EXPECT_EQ(p->load_of(uid).tokens, 0);
}

TEST(InflightLoadProducerTest, OnlyUncachedTokensCount) {
  auto p = make("{}");
  auto eps = testing::endpoints(2);
  testing::Cycle c(eps, prompt_tokens(300));
  auto prefix = std::make_shared<PrefixMatchData>();
  prefix->by_candidate = {PrefixCacheMatchInfo{4, 5, 64, 4}, PrefixCacheMatchInfo{0, 5, 64, 0}};
  c.state().put(prefix_match_key(kDefaultPrefixProducer), prefix);
  auto r = dispatch(c, *p, eps[0].id);
  EXPECT_EQ(p->load_of(r.primary_endpoint()->uid).tokens, 300 - 4 * 64);
}

TEST(InflightLoadProducerTest, EstimatedOutputTokensTable) {
  struct Case {
    const char* params;
    size_t prompt;
    int64_t max_tokens;
    int64_t want_tokens;       // after dispatch
    int64_t want_after_first;  // after the first chunk
  };
  const Case cases[] = {
      {"{}", 100, -1, 100, 0},
      {"{addEstimatedOutputTokens: true}", 100, -1, 250, 150},
      {"{addEstimatedOutputTokens: true}", 100, 20, 120, 20},
      {"{addEstimatedOutputTokens: true, outputRatio: 0.5}", 100, -1, 150, 50},
      {"{addEstimatedOutputTokens: true, maxEstimatedOutputTokens: 30}", 100, 500, 130, 30},
  };
  for (const auto& c : cases) {
    auto p = make(c.params);
    auto eps = testing::endpoints(1);
    testing::Cycle cycle(eps, prompt_tokens(c.prompt, c.max_tokens));
    auto r = dispatch(cycle, *p, eps[0].id);
    const uint64_t uid = r.primary_endpoint()->uid;
    EXPECT_EQ(p->load_of(uid).tokens, c.want_tokens) << c.params;
    p->on_response_streaming(cycle.ctx().request, r, ResponseChunk{true, 1});
    EXPECT_EQ(p->load_of(uid).tokens, c.want_after_first) << c.params;
    p->on_response_complete(cycle.ctx().request, r, ResponseCompletion{});
    EXPECT_EQ(p->load_of(uid).tokens, 0) << c.params;
    EXPECT_EQ(p->load_of(uid).requests, 0) << c.params;
  }
}

TEST(InflightLoadProducerTest, Validation) {
  auto node = config::parse("{outputRatio: 0}");
  ASSERT_TRUE(node);
  auto r = create_inflight_load_producer(PluginArgs{{"inflight-load-producer", "i"}, *node});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("outputRatio: must be > 0"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

#include "sched/plugins/active-request-scorer/active_request_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  if (!node) return node.error();
  return create_active_request_scorer(PluginArgs{{"active-request-scorer", "a"}, *node});
}

TEST(ActiveRequestScorerTest, Table) {
  struct Case {
    const char* params;
    std::vector<int64_t> counts;
    std::vector<double> want;
  };
  const Case cases[] = {
      {"{}", {0, 2, 4}, {1.0, 0.5, 0.0}},
      {"{}", {0, 0}, {1.0, 1.0}},
      {"{idleThreshold: 2}", {0, 2, 4}, {1.0, 1.0, 0.0}},
      {"{maxBusyScore: 0.5}", {0, 1, 4}, {1.0, 0.375, 0.0}},
      {"{requestTimeout: 2m}", {3, 3}, {0.0, 0.0}},
  };
  for (const auto& c : cases) {
    auto p = make(c.params);
    ASSERT_TRUE(p) << p.error().message;
    auto eps = testing::endpoints(c.counts.size());
    testing::Cycle cycle(eps);
    auto data = std::make_shared<InflightData>();
    for (int64_t n : c.counts) data->by_candidate.push_back(InflightLoad{n, 0});
    cycle.state().put(std::string(kInflightLoadKey), data);
    auto got = cycle.score(*dynamic_cast<const Scorer*>(p->get()));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i], c.want[i]) << c.params << " " << i;
  }
}

TEST(ActiveRequestScorerTest, ConsumesInflightLoad) {
  auto p = make("{}");
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)->consumes(), std::vector<std::string>{std::string(kInflightLoadKey)});
  auto bad = make("{maxBusyScore: 1.5}");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("maxBusyScore: must be in [0, 1]"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

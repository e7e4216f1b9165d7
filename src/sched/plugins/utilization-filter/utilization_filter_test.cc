#include "sched/plugins/utilization-filter/utilization_filter.h"

#include <gtest/gtest.h>

#include "sched/data.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  if (!node) return node.error();
  return create_utilization_filter(PluginArgs{{"utilization-filter", "u"}, *node});
}

TEST(UtilizationFilterTest, Table) {
  struct Case {
    const char* params;
    std::vector<bool> keep;
  };
  // Endpoints: (waiting, running, kv, active requests)
  //   e0 (0, 1, 0.10, 0), e1 (5, 8, 0.95, 3), e2 (10, 2, 0.50, 9)
  const Case cases[] = {
      {"{conditions: [{metric: waiting-queue, maxValue: 5}]}", {true, true, false}},
      {"{conditions: [{metric: running-requests, maxValue: 4}]}", {true, false, true}},
      {"{conditions: [{metric: kv-cache-utilization, maxValue: 0.9}]}", {true, false, true}},
      {"{conditions: [{metric: active-requests, maxValue: 3}]}", {true, true, false}},
      {"{conditions: [{metric: waiting-queue, maxValue: 5}, {metric: kv-cache-utilization, maxValue: 0.9}]}",
       {true, false, false}},
      {"{conditions: [{metric: waiting-queue, maxValue: -0.0}]}", {true, false, false}},
      // Everything dropped: empty, or the original list with fallbackOnEmpty.
      {"{conditions: [{metric: running-requests, maxValue: 0}]}", {false, false, false}},
      {"{conditions: [{metric: running-requests, maxValue: 0}], fallbackOnEmpty: true}", {true, true, true}},
  };
  auto eps = testing::endpoints(3);
  const double kv[] = {0.10, 0.95, 0.50};
  const int64_t w[] = {0, 5, 10}, r[] = {1, 8, 2}, active[] = {0, 3, 9};
  for (size_t i = 0; i < 3; ++i) {
    eps[i].metrics.waiting_queue_size = w[i];
    eps[i].metrics.running_requests_size = r[i];
    eps[i].metrics.kv_cache_usage = kv[i];
  }
  for (const auto& c : cases) {
    auto p = make(c.params);
    ASSERT_TRUE(p) << c.params << ": " << p.error().message;
    testing::Cycle cycle(eps);
    auto inflight = std::make_shared<InflightData>();
    for (int64_t a : active) inflight->by_candidate.push_back(InflightLoad{a, 0});
    cycle.state().put(std::string(kInflightLoadKey), inflight);
    auto kept = cycle.filter(*dynamic_cast<const Filter*>(p->get()));
    std::vector<std::string> want;
    for (size_t i = 0; i < 3; ++i) {
      if (c.keep[i]) want.push_back(eps[i].id);
    }
    EXPECT_EQ(kept, want) << c.params;
  }
}

TEST(UtilizationFilterTest, ConsumesInflightOnlyForActiveRequests) {
  auto a = make("{conditions: [{metric: active-requests, maxValue: 1}]}");
  auto b = make("{conditions: [{metric: waiting-queue, maxValue: 1}]}");
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->consumes(), std::vector<std::string>{std::string(kInflightLoadKey)});
  EXPECT_TRUE((*b)->consumes().empty());
}

TEST(UtilizationFilterTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{}", "conditions: missing required field"},
      {"{conditions: []}", "conditions: must not be empty"},
      {"{conditions: [{metric: gpu, maxValue: 1}]}", "conditions[0].metric: unknown value"},
      {"{conditions: [{metric: waiting-queue, maxValue: -1}]}", "conditions[0].maxValue: must be >= 0"},
      {"{conditions: [{metric: waiting-queue}]}", "conditions[0].maxValue: missing required field"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins

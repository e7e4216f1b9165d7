#include "sched/plugins/label-selector-filter/label_selector_filter.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  if (!node) return node.error();
  return create_label_selector_filter(PluginArgs{{"label-selector-filter", "sel"}, *node});
}

struct Case {
  const char* params;
  std::vector<bool> keep;  // for endpoints {zone=a,gpu=h100}, {zone=b}, {}
};

TEST(LabelSelectorFilterTest, SelectorTable) {
  const Case cases[] = {
      {"{}", {true, true, true}},
      {"{matchLabels: {zone: a}}", {true, false, false}},
      {"{matchExpressions: [{key: zone, operator: In, values: [a, b]}]}", {true, true, false}},
      {"{matchExpressions: [{key: zone, operator: NotIn, values: [a]}]}", {false, true, true}},
      {"{matchExpressions: [{key: gpu, operator: Exists}]}", {true, false, false}},
      {"{matchExpressions: [{key: gpu, operator: DoesNotExist}]}", {false, true, true}},
      {"{matchLabels: {zone: b}, matchExpressions: [{key: gpu, operator: DoesNotExist}]}",
       {false, true, false}},
  };
  auto eps = testing::endpoints(3);
  eps[0].labels = {{"zone", "a"}, {"gpu", "h100"}};
  eps[1].labels = {{"zone", "b"}};
  for (const auto& c : cases) {
    auto p = make(c.params);
    ASSERT_TRUE(p) << c.params << ": " << p.error().message;
    testing::Cycle cycle(eps);
    auto kept = cycle.filter(*dynamic_cast<const Filter*>(p->get()));
    std::vector<std::string> want;
    for (size_t i = 0; i < eps.size(); ++i) {
      if (c.keep[i]) want.push_back(eps[i].id);
    }
    EXPECT_EQ(kept, want) << c.params;
  }
}

TEST(LabelSelectorFilterTest, InvalidParametersNameTheirPath) {
  const std::pair<const char*, const char*> cases[] = {
      {"{matchExpressions: [{key: a, operator: In}]}", "matchExpressions[0].values: must not be empty"},
      {"{matchExpressions: [{key: a, operator: Exists, values: [x]}]}",
       "matchExpressions[0].values: must be empty"},
      {"{matchExpressions: [{key: a, operator: Near, values: [x]}]}",
       "matchExpressions[0].operator: unknown value"},
      {"{matchLabel: {a: b}}", "matchLabel: unknown field"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins

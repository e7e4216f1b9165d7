#include "sched/plugins/by-label/by_label.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t");
  if (!node) return node.error();
  return create_by_label(PluginArgs{{"by-label", "by-label"}, *node});
}

TEST(ByLabelTest, Table) {
  struct Case {
    const char* params;
    std::vector<bool> keep;  // role=decode, role=prefill, unlabeled
  };
  const Case cases[] = {
      // IS v0.3 decode-filter: by-label(llm-d.ai/role, [decode, both], allowsNoLabel=true).
      {"{label: llm-d.ai/role, validValues: [decode, both], allowsNoLabel: true}", {true, false, true}},
      // IS v0.3 prefill-filter.
      {"{label: llm-d.ai/role, validValues: [prefill]}", {false, true, false}},
      {"{label: llm-d.ai/role, allowsNoLabel: true}", {false, false, true}},
  };
  auto eps = testing::endpoints(3);
  eps[0].labels[std::string(kRoleLabel)] = "decode";
  eps[1].labels[std::string(kRoleLabel)] = "prefill";
  for (const auto& c : cases) {
    auto p = make(c.params);
    ASSERT_TRUE(p) << p.error().message;
    testing::Cycle cycle(eps);
    auto kept = cycle.filter(*dynamic_cast<const Filter*>(p->get()));
    std::vector<std::string> want;
    for (size_t i = 0; i < 3; ++i) {
      if (c.keep[i]) want.push_back(eps[i].id);
    }
    EXPECT_EQ(kept, want) << c.params;
  }
}

TEST(ByLabelTest, Validation) {
  auto missing = make("{validValues: [a]}");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("label: missing required field"), std::string::npos);
  auto useless = make("{label: x}");
  ASSERT_FALSE(useless);
  EXPECT_NE(useless.error().message.find("validValues: must not be empty"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins

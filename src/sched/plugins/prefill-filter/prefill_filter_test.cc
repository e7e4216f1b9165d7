#include "sched/plugins/prefill-filter/prefill_filter.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(PrefillFilterTest, DropsUnlabeledAndDecodeOnly) {
  auto eps = testing::endpoints(4);
  eps[1].labels[std::string(kRoleLabel)] = "prefill";
  eps[2].labels[std::string(kRoleLabel)] = "decode";
  eps[3].labels[std::string(kRoleLabel)] = "both";
  testing::Cycle cycle(eps);
  PrefillFilter f({"prefill-filter", "prefill-filter"});
  EXPECT_EQ(cycle.filter(f), (std::vector<std::string>{eps[1].id, eps[3].id}));
}

TEST(PrefillFilterTest, FactoryAcceptsEmptyParameters) {
  auto node = config::parse("{}");
  ASSERT_TRUE(node);
  auto r = create_prefill_filter(PluginArgs{{"prefill-filter", "p"}, *node});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->typed_name().name, "p");
  EXPECT_NE(dynamic_cast<const Filter*>(r->get()), nullptr);
}

}  // namespace
}  // namespace llmd::sched::plugins

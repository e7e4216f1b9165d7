#include "sched/plugins/core-metrics-extractor/core_metrics_extractor.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t.yaml");
  EXPECT_TRUE(node);
  return create_core_metrics_extractor(PluginArgs{{"core-metrics-extractor", "x"}, *node});
}

TEST(CoreMetricsExtractorTest, DefaultEngine) {
  for (const auto& [yaml, want] : std::initializer_list<std::pair<const char*, const char*>>{
           {"", "vllm"}, {"{defaultEngine: vllm}", "vllm"}, {"{defaultEngine: sglang}", "sglang"}}) {
    auto p = make(yaml);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(dynamic_cast<const DataExtractor*>(p->get())->default_engine(), want) << yaml;
  }
}

TEST(CoreMetricsExtractorTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{defaultEngine: trtllm-serve}", "defaultEngine: engine \"trtllm-serve\" is not built into llmd"},
      {"{engineConfigs: [{name: mine, queuedRequestsSpec: q}]}",
       "engineConfigs: not supported by this build"},
      {"{engineLabel: x}", "engineLabel: unknown field"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins

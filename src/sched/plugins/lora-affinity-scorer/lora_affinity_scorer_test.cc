#include "sched/plugins/lora-affinity-scorer/lora_affinity_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(LoraAffinityScorerTest, Table) {
  struct Case {
    std::vector<std::string> active, waiting;
    int64_t max;
    double want;
  };
  const Case cases[] = {
      {{"sql-lora"}, {}, 4, 1.0},                 // active
      {{"sql-lora", "a", "b", "c"}, {}, 4, 1.0},  // active beats a full server
      {{"a"}, {}, 4, 0.8},                        // room to load it
      {{"a", "b"}, {"c"}, 4, 0.8},
      {{"a", "b"}, {"sql-lora", "c"}, 4, 0.6},  // full, but queued for it
      {{"a", "b", "c", "d"}, {}, 4, 0.0},       // full
      {{}, {}, 0, 0.0},                         // no LoRA information
  };
  LLMRequest req;
  req.model = "client-name";
  req.target_model = "sql-lora";
  for (const auto& c : cases) {
    auto eps = testing::endpoints(1);
    eps[0].metrics.active_models = c.active;
    eps[0].metrics.waiting_models = c.waiting;
    eps[0].metrics.max_active_models = c.max;
    testing::Cycle cycle(eps, req);
    LoraAffinityScorer s({"lora-affinity-scorer", "l"});
    EXPECT_DOUBLE_EQ(cycle.score(s)[0], c.want);
  }
}

TEST(LoraAffinityScorerTest, UsesModelWhenNoTarget) {
  LLMRequest req;
  req.model = "base";
  auto eps = testing::endpoints(2);
  eps[0].metrics.active_models = {"base"};
  eps[1].metrics.active_models = {"other"};
  eps[1].metrics.max_active_models = 1;
  testing::Cycle cycle(eps, req);
  LoraAffinityScorer s({"lora-affinity-scorer", "l"});
  EXPECT_EQ(cycle.score(s), (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(s.category(), ScorerCategory::kAffinity);
}

}  // namespace
}  // namespace llmd::sched::plugins

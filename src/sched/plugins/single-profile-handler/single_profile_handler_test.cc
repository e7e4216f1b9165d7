#include "sched/plugins/single-profile-handler/single_profile_handler.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(SingleProfileHandlerTest, RunsTheOnlyProfileOnce) {
  SingleProfileHandler h({"single-profile-handler", "h"});
  const std::vector<std::string> profiles = {"default"};
  EXPECT_TRUE(h.check_profiles(profiles));
  const std::vector<std::string> two = {"a", "b"};
  auto bad = h.check_profiles(two);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kConfig);

  auto eps = testing::endpoints(1);
  testing::Cycle cycle(eps);
  EXPECT_EQ(h.pick(cycle.ctx(), profiles, {}), profiles);
  auto result = cycle.result({{"default", eps[0].id}});
  EXPECT_TRUE(h.pick(cycle.ctx(), profiles, result.profile_results).empty());
  result.primary_profile.clear();
  ASSERT_TRUE(h.process_results(cycle.ctx(), result));
  EXPECT_EQ(result.primary_profile, "default");
}

TEST(SingleProfileHandlerTest, FailedProfileFailsTheRequest) {
  SingleProfileHandler h({"single-profile-handler", "h"});
  testing::Cycle cycle(testing::endpoints(1));
  SchedulingResult result;
  ProfileRun run;
  run.profile = "default";
  run.error = make_error(ErrorCode::kResourceExhausted, "filter x left no endpoints");
  result.profile_results.push_back(run);
  auto r = h.process_results(cycle.ctx(), result);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace llmd::sched::plugins

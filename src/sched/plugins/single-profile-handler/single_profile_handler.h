#pragma once
// single-profile-handler: runs the only profile once; it is the primary (llm-d-router
// pkg/epp/framework/plugins/scheduling/profilehandler/single).

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kSingleProfileHandlerType = "single-profile-handler";

class SingleProfileHandler final : public Plugin, public ProfileHandler {
 public:
  explicit SingleProfileHandler(TypedName tn) : Plugin(std::move(tn)) {}
  Result<void> check_profiles(std::span<const std::string> profiles) const override;
  std::vector<std::string> pick(const SchedulingContext& ctx, std::span<const std::string> profiles,
                                std::span<const ProfileRun> results) const override;
  Result<void> process_results(const SchedulingContext& ctx, SchedulingResult& result) const override;
};

Result<std::shared_ptr<Plugin>> create_single_profile_handler(const PluginArgs& args);

}  // namespace llmd::sched::plugins

#include "sched/plugins/single-profile-handler/single_profile_handler.h"

#include <fmt/format.h>

namespace llmd::sched::plugins {

Result<void> SingleProfileHandler::check_profiles(std::span<const std::string> profiles) const {
  if (profiles.size() != 1) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("single-profile-handler needs exactly one profile, got {}", profiles.size()));
  }
  return {};
}

std::vector<std::string> SingleProfileHandler::pick(const SchedulingContext&,
                                                    std::span<const std::string> profiles,
                                                    std::span<const ProfileRun> results) const {
  if (!results.empty() || profiles.empty()) return {};
  return {profiles.front()};
}

Result<void> SingleProfileHandler::process_results(const SchedulingContext&, SchedulingResult& result) const {
  const ProfileRun& run = result.profile_results.front();
  if (!run.ok) return run.error;
  result.primary_profile = run.profile;
  return {};
}

Result<std::shared_ptr<Plugin>> create_single_profile_handler(const PluginArgs& args) {
  return make_plugin_without_params<SingleProfileHandler>(args);
}

}  // namespace llmd::sched::plugins

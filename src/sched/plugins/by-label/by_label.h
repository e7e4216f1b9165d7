#pragma once
// by-label (deprecated upstream, kept for existing configs): keeps endpoints whose value of one label is
// in a list, optionally also those without the label (llm-d-router
// pkg/epp/framework/plugins/scheduling/filter/bylabel).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kByLabelType = "by-label";

struct ByLabelParams {
  std::string label;
  std::vector<std::string> valid_values;
  bool allows_no_label = false;
};
void decode(config::MapReader& m, ByLabelParams& p);

class ByLabelFilter final : public Plugin, public Filter {
 public:
  ByLabelFilter(TypedName tn, ByLabelParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(std::move(params)) {}
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;
  bool keeps(const Endpoint& e) const;

 private:
  ByLabelParams params_;
};

Result<std::shared_ptr<Plugin>> create_by_label(const PluginArgs& args);

}  // namespace llmd::sched::plugins

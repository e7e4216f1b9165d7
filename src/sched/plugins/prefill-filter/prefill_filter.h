#pragma once
// prefill-filter: keeps endpoints that can prefill, by the llm-d.ai/role label (llm-d-router
// pkg/epp/framework/plugins/scheduling/filter/bylabel/roles.go).

#include <memory>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kPrefillFilterType = "prefill-filter";

// Keeps role ∈ {prefill, encode-prefill, prefill-decode, both, encode-prefill-decode}; unlabeled
// endpoints are dropped.
class PrefillFilter final : public Plugin, public Filter {
 public:
  explicit PrefillFilter(TypedName tn) : Plugin(std::move(tn)) {}
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;
  static bool keeps(const Endpoint& e);
};

Result<std::shared_ptr<Plugin>> create_prefill_filter(const PluginArgs& args);

}  // namespace llmd::sched::plugins

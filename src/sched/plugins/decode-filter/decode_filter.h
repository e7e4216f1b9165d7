#pragma once
// decode-filter: keeps endpoints that can decode, by the llm-d.ai/role label (llm-d-router
// pkg/epp/framework/plugins/scheduling/filter/bylabel/roles.go).

#include <memory>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kDecodeFilterType = "decode-filter";

// Keeps role ∈ {decode, prefill-decode, both, encode-prefill-decode} and endpoints without a role label.
class DecodeFilter final : public Plugin, public Filter {
 public:
  explicit DecodeFilter(TypedName tn) : Plugin(std::move(tn)) {}
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;
  static bool keeps(const Endpoint& e);
};

Result<std::shared_ptr<Plugin>> create_decode_filter(const PluginArgs& args);

}  // namespace llmd::sched::plugins

#pragma once
// label-selector-filter (deprecated alias by-label-selector): a Kubernetes label selector over endpoint
// labels (llm-d-router pkg/epp/framework/plugins/scheduling/filter/bylabel/selector.go). matchLabels and
// matchExpressions are ANDed; an empty selector keeps all.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kLabelSelectorFilterType = "label-selector-filter";
inline constexpr std::string_view kLabelSelectorFilterAlias = "by-label-selector";

enum class SelectorOp { kIn, kNotIn, kExists, kDoesNotExist };

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kIn;
  std::vector<std::string> values;
};
void decode(config::MapReader& m, LabelRequirement& r);

struct LabelSelectorParams {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelRequirement> match_expressions;
};
void decode(config::MapReader& m, LabelSelectorParams& p);

// True when `labels` satisfy every requirement (Kubernetes semantics: NotIn also matches an absent key).
bool selector_matches(const LabelSelectorParams& selector, const Labels& labels);

class LabelSelectorFilter final : public Plugin, public Filter {
 public:
  LabelSelectorFilter(TypedName tn, LabelSelectorParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(std::move(params)) {}
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;

 private:
  LabelSelectorParams params_;
};

Result<std::shared_ptr<Plugin>> create_label_selector_filter(const PluginArgs& args);

}  // namespace llmd::sched::plugins

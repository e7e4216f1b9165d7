#include "sched/plugins/label-selector-filter/label_selector_filter.h"

#include <algorithm>

namespace llmd::sched::plugins {
namespace {
constexpr config::EnumName<SelectorOp> kOpNames[] = {{"In", SelectorOp::kIn},
                                                     {"NotIn", SelectorOp::kNotIn},
                                                     {"Exists", SelectorOp::kExists},
                                                     {"DoesNotExist", SelectorOp::kDoesNotExist}};
}  // namespace

void decode(config::MapReader& m, LabelRequirement& r) {
  m.require("key", r.key);
  m.require("operator", r.op, std::span<const config::EnumName<SelectorOp>>(kOpNames));
  m.read("values", r.values);
  const bool set_op = r.op == SelectorOp::kIn || r.op == SelectorOp::kNotIn;
  if (set_op && r.values.empty()) m.error("values", "must not be empty for In and NotIn");
  if (!set_op && !r.values.empty()) m.error("values", "must be empty for Exists and DoesNotExist");
}

void decode(config::MapReader& m, LabelSelectorParams& p) {
  m.read("matchLabels", p.match_labels);
  m.read("matchExpressions", p.match_expressions);
}

bool selector_matches(const LabelSelectorParams& selector, const Labels& labels) {
  for (const auto& [k, v] : selector.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& r : selector.match_expressions) {
    auto it = labels.find(r.key);
    const bool present = it != labels.end();
    const bool in = present && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    switch (r.op) {
      case SelectorOp::kIn:
        if (!in) return false;
        break;
      case SelectorOp::kNotIn:
        if (in) return false;
        break;
      case SelectorOp::kExists:
        if (!present) return false;
        break;
      case SelectorOp::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

void LabelSelectorFilter::filter(const SchedulingContext&, CandidateList& candidates) const {
  std::erase_if(candidates,
                [&](const Candidate& c) { return !selector_matches(params_, c.endpoint->labels); });
}

Result<std::shared_ptr<Plugin>> create_label_selector_filter(const PluginArgs& args) {
  return make_plugin<LabelSelectorFilter, LabelSelectorParams>(args);
}

}  // namespace llmd::sched::plugins

#include "sched/plugins/by-label/by_label.h"

#include <algorithm>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, ByLabelParams& p) {
  if (m.require("label", p.label) && p.label.empty()) m.error("label", "must not be empty");
  m.read("validValues", p.valid_values);
  m.read("allowsNoLabel", p.allows_no_label);
  if (p.valid_values.empty() && !p.allows_no_label) {
    m.error("validValues",
            "must not be empty unless allowsNoLabel is true (the filter would drop every endpoint)");
  }
}

bool ByLabelFilter::keeps(const Endpoint& e) const {
  if (!e.has_label(params_.label)) return params_.allows_no_label;
  const std::string_view v = e.label(params_.label);
  return std::find(params_.valid_values.begin(), params_.valid_values.end(), v) != params_.valid_values.end();
}

void ByLabelFilter::filter(const SchedulingContext&, CandidateList& candidates) const {
  std::erase_if(candidates, [&](const Candidate& c) { return !keeps(*c.endpoint); });
}

Result<std::shared_ptr<Plugin>> create_by_label(const PluginArgs& args) {
  return make_plugin<ByLabelFilter, ByLabelParams>(args);
}

}  // namespace llmd::sched::plugins

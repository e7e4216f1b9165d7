#include "sched/plugins/prefill-filter/prefill_filter.h"

#include <algorithm>
#include <array>

namespace llmd::sched::plugins {

bool PrefillFilter::keeps(const Endpoint& e) {
  static constexpr std::array<std::string_view, 5> kRoles = {"prefill", "encode-prefill", "prefill-decode",
                                                             "both", "encode-prefill-decode"};
  if (!e.has_label(kRoleLabel)) return false;
  return std::find(kRoles.begin(), kRoles.end(), e.label(kRoleLabel)) != kRoles.end();
}

void PrefillFilter::filter(const SchedulingContext&, CandidateList& candidates) const {
  std::erase_if(candidates, [](const Candidate& c) { return !keeps(*c.endpoint); });
}

Result<std::shared_ptr<Plugin>> create_prefill_filter(const PluginArgs& args) {
  return make_plugin_without_params<PrefillFilter>(args);
}

}  // namespace llmd::sched::plugins

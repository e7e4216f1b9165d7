#include "sched/plugins/decode-filter/decode_filter.h"

#include <algorithm>
#include <array>

namespace llmd::sched::plugins {

bool DecodeFilter::keeps(const Endpoint& e) {
  static constexpr std::array<std::string_view, 4> kRoles = {"decode", "prefill-decode", "both",
                                                             "encode-prefill-decode"};
  if (!e.has_label(kRoleLabel)) return true;
  return std::find(kRoles.begin(), kRoles.end(), e.label(kRoleLabel)) != kRoles.end();
}

void DecodeFilter::filter(const SchedulingContext&, CandidateList& candidates) const {
  std::erase_if(candidates, [](const Candidate& c) { return !keeps(*c.endpoint); });
}

Result<std::shared_ptr<Plugin>> create_decode_filter(const PluginArgs& args) {
  return make_plugin_without_params<DecodeFilter>(args);
}

}  // namespace llmd::sched::plugins

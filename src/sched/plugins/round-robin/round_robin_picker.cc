#include "sched/plugins/round-robin/round_robin_picker.h"

#include <algorithm>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, RoundRobinPickerParams& p) {
  if (m.read("maxNumOfEndpoints", p.max_num_of_endpoints) && p.max_num_of_endpoints < 1) {
    m.error("maxNumOfEndpoints", "must be >= 1");
  }
}

void RoundRobinPicker::pick(const SchedulingContext&, std::vector<ScoredCandidate>& scored,
                            std::vector<ScoredCandidate>& out) const {
  out.clear();
  if (scored.empty()) return;
  // Candidates arrive in snapshot order (sorted by endpoint id), so turns are stable across calls.
  const size_t size = scored.size();
  const size_t start = static_cast<size_t>(next_.fetch_add(1, std::memory_order_relaxed) % size);
  const size_t n = std::min(size, static_cast<size_t>(params_.max_num_of_endpoints));
  for (size_t k = 0; k < n; ++k) out.push_back(scored[(start + k) % size]);
}

Result<std::shared_ptr<Plugin>> create_round_robin(const PluginArgs& args) {
  return make_plugin<RoundRobinPicker, RoundRobinPickerParams>(args);
}

}  // namespace llmd::sched::plugins

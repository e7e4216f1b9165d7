#pragma once
// utilization-filter (formerly active-request-filter): drops endpoints over any configured cap
// (llm-d-router pkg/epp/framework/plugins/scheduling/filter/activerequest). active-requests comes from
// inflight-load-producer; the others are scraped.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kUtilizationFilterType = "utilization-filter";

enum class UtilizationMetric { kActiveRequests, kRunningRequests, kWaitingQueue, kKvCacheUtilization };

struct UtilizationCondition {
  UtilizationMetric metric = UtilizationMetric::kWaitingQueue;
  double max_value = 0.0;  // kept when value <= max_value; kv-cache-utilization is a fraction
};
void decode(config::MapReader& m, UtilizationCondition& c);

struct UtilizationFilterParams {
  std::vector<UtilizationCondition> conditions;
  bool fallback_on_empty = false;  // all dropped → keep the original list
};
void decode(config::MapReader& m, UtilizationFilterParams& p);

class UtilizationFilter final : public Plugin, public Filter {
 public:
  UtilizationFilter(TypedName tn, UtilizationFilterParams params, const PluginArgs& = {});
  std::vector<std::string> consumes() const override;
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;

 private:
  UtilizationFilterParams params_;
  bool needs_inflight_ = false;
};

Result<std::shared_ptr<Plugin>> create_utilization_filter(const PluginArgs& args);

}  // namespace llmd::sched::plugins

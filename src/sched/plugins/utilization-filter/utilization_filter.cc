#include "sched/plugins/utilization-filter/utilization_filter.h"

#include <algorithm>

#include "sched/data.h"

namespace llmd::sched::plugins {
namespace {
constexpr config::EnumName<UtilizationMetric> kMetricNames[] = {
    {"active-requests", UtilizationMetric::kActiveRequests},
    {"running-requests", UtilizationMetric::kRunningRequests},
    {"waiting-queue", UtilizationMetric::kWaitingQueue},
    {"kv-cache-utilization", UtilizationMetric::kKvCacheUtilization}};
}  // namespace

void decode(config::MapReader& m, UtilizationCondition& c) {
  m.require("metric", c.metric, std::span<const config::EnumName<UtilizationMetric>>(kMetricNames));
  if (m.require("maxValue", c.max_value) && c.max_value < 0) m.error("maxValue", "must be >= 0");
}

void decode(config::MapReader& m, UtilizationFilterParams& p) {
  m.require("conditions", p.conditions);
  if (m.has("conditions") && p.conditions.empty()) m.error("conditions", "must not be empty");
  m.read("fallbackOnEmpty", p.fallback_on_empty);
}

UtilizationFilter::UtilizationFilter(TypedName tn, UtilizationFilterParams params, const PluginArgs&)
    : Plugin(std::move(tn)), params_(std::move(params)) {
  for (const auto& c : params_.conditions) {
    needs_inflight_ = needs_inflight_ || c.metric == UtilizationMetric::kActiveRequests;
  }
}

std::vector<std::string> UtilizationFilter::consumes() const {
  if (needs_inflight_) return {std::string(kInflightLoadKey)};
  return {};
}

void UtilizationFilter::filter(const SchedulingContext& ctx, CandidateList& candidates) const {
  auto inflight = needs_inflight_ ? ctx.state.get<InflightData>(kInflightLoadKey) : nullptr;
  auto over = [&](const Candidate& c) {
    const EndpointMetrics& m = *c.endpoint->metrics;
    for (const auto& cond : params_.conditions) {
      double v = 0;
      switch (cond.metric) {
        case UtilizationMetric::kActiveRequests:
          v = inflight != nullptr && c.index < inflight->by_candidate.size()
                  ? static_cast<double>(inflight->by_candidate[c.index].requests)
                  : 0.0;
          break;
        case UtilizationMetric::kRunningRequests:
          v = static_cast<double>(m.running_requests_size);
          break;
        case UtilizationMetric::kWaitingQueue:
          v = static_cast<double>(m.waiting_queue_size);
          break;
        case UtilizationMetric::kKvCacheUtilization:
          v = m.kv_cache_usage;
          break;
      }
      if (v > cond.max_value) return true;
    }
    return false;
  };
  CandidateList kept;
  kept.reserve(candidates.size());
  for (const auto& c : candidates) {
    if (!over(c)) kept.push_back(c);
  }
  if (kept.empty() && params_.fallback_on_empty) return;
  candidates = std::move(kept);
}

Result<std::shared_ptr<Plugin>> create_utilization_filter(const PluginArgs& args) {
  return make_plugin<UtilizationFilter, UtilizationFilterParams>(args);
}

}  // namespace llmd::sched::plugins

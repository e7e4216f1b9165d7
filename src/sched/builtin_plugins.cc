#include "sched/builtin_plugins.h"

#include "sched/plugins/active-request-scorer/active_request_scorer.h"
#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"
#include "sched/plugins/by-label/by_label.h"
#include "sched/plugins/core-metrics-extractor/core_metrics_extractor.h"
#include "sched/plugins/decode-filter/decode_filter.h"
#include "sched/plugins/file-discovery/file_discovery.h"
#include "sched/plugins/inflight-load-producer/inflight_load_producer.h"
#include "sched/plugins/kv-cache-utilization-scorer/kv_cache_utilization_scorer.h"
#include "sched/plugins/label-selector-filter/label_selector_filter.h"
#include "sched/plugins/load-aware-scorer/load_aware_scorer.h"
#include "sched/plugins/lora-affinity-scorer/lora_affinity_scorer.h"
#include "sched/plugins/max-score-picker/max_score_picker.h"
#include "sched/plugins/metrics-data-source/metrics_data_source.h"
#include "sched/plugins/no-hit-lru-scorer/no_hit_lru_scorer.h"
#include "sched/plugins/openai-parser/openai_parser.h"
#include "sched/plugins/prefill-filter/prefill_filter.h"
#include "sched/plugins/prefix-cache-affinity-filter/prefix_cache_affinity_filter.h"
#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"
#include "sched/plugins/queue-scorer/queue_scorer.h"
#include "sched/plugins/random-picker/random_picker.h"
#include "sched/plugins/round-robin/round_robin_picker.h"
#include "sched/plugins/running-requests-size-scorer/running_requests_size_scorer.h"
#include "sched/plugins/session-affinity-scorer/session_affinity_scorer.h"
#include "sched/plugins/single-profile-handler/single_profile_handler.h"
#include "sched/plugins/token-load-scorer/token_load_scorer.h"
#include "sched/plugins/token-producer/token_producer.h"
#include "sched/plugins/utilization-filter/utilization_filter.h"
#include "sched/plugins/weighted-random-picker/weighted_random_picker.h"

namespace llmd::sched {

Result<void> register_builtin_plugins(PluginRegistry& r) {
  using namespace plugins;
  struct Item {
    std::string_view type;
    PluginFactory factory;
  };
  const Item items[] = {
      // Filters
      {kDecodeFilterType, create_decode_filter},
      {kPrefillFilterType, create_prefill_filter},
      {kLabelSelectorFilterType, create_label_selector_filter},
      {kByLabelType, create_by_label},
      {kUtilizationFilterType, create_utilization_filter},
      {kPrefixCacheAffinityFilterType, create_prefix_cache_affinity_filter},
      // Scorers
      {kQueueScorerType, create_queue_scorer},
      {kKvCacheUtilizationScorerType, create_kv_cache_utilization_scorer},
      {kRunningRequestsSizeScorerType, create_running_requests_size_scorer},
      {kLoadAwareScorerType, create_load_aware_scorer},
      {kActiveRequestScorerType, create_active_request_scorer},
      {kTokenLoadScorerType, create_token_load_scorer},
      {kPrefixCacheScorerType, create_prefix_cache_scorer},
      {kNoHitLruScorerType, create_no_hit_lru_scorer},
      {kSessionAffinityScorerType, create_session_affinity_scorer},
      {kLoraAffinityScorerType, create_lora_affinity_scorer},
      // Pickers
      {kMaxScorePickerType, create_max_score_picker},
      {kRandomPickerType, create_random_picker},
      {kWeightedRandomPickerType, create_weighted_random_picker},
      {kRoundRobinPickerType, create_round_robin},
      // Profile handlers
      {kSingleProfileHandlerType, create_single_profile_handler},
      // Data producers
      {kTokenProducerType, create_token_producer},
      {kApproxPrefixCacheProducerType, create_approx_prefix_cache_producer},
      {kInflightLoadProducerType, create_inflight_load_producer},
      // Data layer (dataLayer section)
      {kFileDiscoveryType, create_file_discovery},
      {kMetricsDataSourceType, create_metrics_data_source},
      {kCoreMetricsExtractorType, create_core_metrics_extractor},
      // Request handler (requestHandler section)
      {kOpenAiParserType, create_openai_parser},
  };
  for (const auto& it : items) {
    if (auto res = r.add(std::string(it.type), it.factory); !res) return res;
  }
  // Deprecated names still found in Helm values and guides.
  const std::pair<std::string_view, std::string_view> aliases[] = {
      {kLabelSelectorFilterAlias, kLabelSelectorFilterType},
      {kKvCacheUtilizationScorerAlias, kKvCacheUtilizationScorerType},
      {kTokenProducerAlias, kTokenProducerType},
  };
  for (const auto& [alias, target] : aliases) {
    if (auto res = r.add_alias(std::string(alias), target); !res) return res;
  }
  return {};
}

const PluginRegistry& builtin_registry() {
  static const PluginRegistry registry = [] {
    PluginRegistry r;
    // The list above is fixed at compile time; a duplicate is a bug caught by the registry test.
    (void)register_builtin_plugins(r);
    return r;
  }();
  return registry;
}

}  // namespace llmd::sched

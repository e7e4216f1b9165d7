#pragma once
// Plugins that publish metrics of their own: the prefix indexer's size and hit ratio, per-endpoint
// in-flight load. A data plane's metrics find them through this interface only, never through a
// plugin's concrete type, so a new plugin brings its series without any front end changing.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "metrics/registry.h"
#include "sched/endpoint.h"

namespace llmd::sched {

// Label values of the flow-control dimensions while every request belongs to one flow at priority 0
// (no InferenceObjective): llm-d's EPP reports these for unqueued requests.
inline constexpr std::string_view kDefaultFairnessId = "default-flow";
inline constexpr std::string_view kDefaultPriority = "0";

using LabelPair = std::pair<std::string_view, std::string_view>;

// Gauges whose label sets follow the endpoint set, gathered at each scrape and rendered as Prometheus
// text with one HELP/TYPE per family (several plugins may add to one family).
class EndpointGauges {
 public:
  // One sample of `family` for `endpoint`, labelled endpoint_name and namespace (the two parts of the
  // endpoint id "namespace/name") followed by `extra`.
  void add(std::string_view family, std::string_view help, const Endpoint& endpoint,
           std::span<const LabelPair> extra, double value);
  // Appends every family in the order first added; with `names`, only the families listed there.
  void render(std::string& out, std::span<const std::string> names = {}) const;
  bool empty() const { return families_.empty(); }

 private:
  struct Family {
    std::string name;
    std::string help;
    std::string samples;  // exposition lines
  };
  std::vector<Family> families_;
};

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  // Called once, before any request: registers the plugin's series and keeps their handles, so that
  // request paths update them without lookups. Errors are registration conflicts (kInternal).
  virtual Result<void> register_metrics(metrics::Registry& registry) = 0;
  // Called at each scrape, for series whose label sets follow the endpoints in `snapshot`.
  virtual void endpoint_gauges(const EndpointSnapshot& /*snapshot*/, EndpointGauges& /*out*/) const {}
};

}  // namespace llmd::sched

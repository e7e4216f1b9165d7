#pragma once
// EndpointPickerConfig (GIE apix/config/v1alpha1, llm-d's plugin set): decoding the YAML, applying llm-d's
// defaulting rules and instantiating the plugins into a SchedulerPlan. Two stages so that errors of both name
// their path:
//   1. decode: document structure, names, references (`schedulingProfiles[0].plugins[1].pluginRef: ...`);
//   2. build: plugin types through the registry and each factory's strict parameter decoding
//      (`plugins[1].parameters.blockSizeTokens: must be > 0`), profile slots, the profile handler,
//      auto-created data producers and their order.
// Sections: apiVersion, kind, featureGates, plugins, schedulingProfiles, dataLayer and requestHandler
// (plus v1alpha1's deprecated top-level parser) are decoded strictly; flowControl, saturationDetector,
// dataLayer.crossReplica (and v1alpha1's crossReplica* fields) and dataLayer.discovery.peers are errors
// that name their path: not supported by this build.
// Start-up only; every failure is ErrorCode::kConfig (the caller exits with code 2).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "config/config.h"
#include "sched/registry.h"
#include "sched/scheduler.h"

namespace llmd::sched {

// llm-d v1.0 graduated the config API to llm-d.ai/v1; the older versions load with a warning.
inline constexpr std::string_view kApiVersion = "llm-d.ai/v1";
inline constexpr std::string_view kDeprecatedApiVersions[] = {"llm-d.ai/v1alpha1",
                                                              "inference.networking.x-k8s.io/v1alpha1"};
inline constexpr std::string_view kKind = "EndpointPickerConfig";

struct PluginSpec {
  std::string type;
  std::string name;         // defaults to type
  config::Node parameters;  // decoded by the plugin's factory
  config::Node type_node;   // for errors about the type
  config::Node node;
};
void decode(config::MapReader& m, PluginSpec& p);

struct ProfilePluginRef {
  std::string plugin_ref;
  std::optional<double> weight;  // scorers only; 1.0 when omitted
  config::Node node;
};
void decode(config::MapReader& m, ProfilePluginRef& r);

struct ProfileSpec {
  std::string name;
  std::vector<ProfilePluginRef> plugins;
  config::Node node;
};
void decode(config::MapReader& m, ProfileSpec& p);

// `{pluginRef: name}`, the form every section uses to name a plugin instance.
struct PluginRefSpec {
  std::string plugin_ref;
  config::Node node;
};
void decode(config::MapReader& m, PluginRefSpec& r);

struct DataLayerSourceSpec {
  PluginRefSpec source;
  std::vector<PluginRefSpec> extractors;
};
void decode(config::MapReader& m, DataLayerSourceSpec& s);

// dataLayer (llm-d-router apix/config/v1 DataLayerConfig; v1alpha1 spells some fields differently).
struct DataLayerSpec {
  std::optional<bool> inject_defaults;
  std::vector<DataLayerSourceSpec> sources;
  // discovery.endpoints.pluginRef, or v1alpha1's deprecated discovery.pluginRef.
  std::optional<PluginRefSpec> discovery;
};

// requestHandler (and v1alpha1's deprecated top-level parser).
struct RequestHandlerSpec {
  std::vector<PluginRefSpec> parsers;
};

struct EndpointPickerConfig {
  std::string api_version;
  std::string kind;
  // "name", "name=true" or "name=false" entries; later entries win.
  std::map<std::string, bool, std::less<>> feature_gates;
  std::vector<PluginSpec> plugins;
  std::vector<ProfileSpec> profiles;
  config::Node profiles_node;
  DataLayerSpec data_layer;
  RequestHandlerSpec request_handler;
};
void decode(config::MapReader& m, EndpointPickerConfig& c);

// llm-d's built-in configuration, used when none is given: queue-scorer 2, kv-cache-utilization-scorer 2,
// prefix-cache-scorer 3 in one profile; the picker, handler and producers are added by the defaulting rules.
extern const std::string_view kDefaultConfigYaml;

// An empty document (or one holding only comments) is llm-d's default configuration.
Result<EndpointPickerConfig> parse_endpoint_picker_config(std::string_view text,
                                                          std::string_view source_name = "<config>");

// Instantiates plugins and applies the defaulting rules:
// - producer parameters given on a consumer (prefix-cache-scorer's blockSizeTokens, lruCapacityPerServer,
//   ...; see handover.h) configure the producer it reads when that one is auto-created, and are errors
//   naming their path when they disagree with a producer configured explicitly;
// - dataLayer and requestHandler references are resolved into SchedulerPlan::data_plane; a parser
//   pluginRef that names a parser type rather than a configured plugin creates it (as llm-d does);
// - schedulingProfiles omitted → one profile "default" with every filter, scorer and picker, weight 1;
// - a profile without a picker gets max-score-picker;
// - no profile handler and one profile → single-profile-handler; several profiles need one;
// - a CycleState key that some plugin consumes and nobody produces gets its default producer
//   (token-producer, approx-prefix-cache-producer, inflight-load-producer); producers run in dependency
//   order.
// Unknown plugin types are errors, never skipped. `services`: what the data plane provides to plugins
// that need shared state (a plugin whose service is absent is a configuration error).
Result<SchedulerPlan> build_scheduler_plan(const EndpointPickerConfig& config, const PluginRegistry& registry,
                                           const Clock& clock, const Services& services = Services::none());

// parse + build.
Result<SchedulerPlan> load_scheduler_plan(std::string_view text, const PluginRegistry& registry,
                                          const Clock& clock, std::string_view source_name = "<config>",
                                          const Services& services = Services::none());

}  // namespace llmd::sched

#pragma once
// file-discovery: endpoints from a YAML or JSON file instead of Kubernetes (llm-d-router
// pkg/epp/framework/plugins/datalayer/discovery/file, "File Discovery Plugin"). Named by
// dataLayer.discovery.endpoints.pluginRef (v1) or dataLayer.discovery.pluginRef (v1alpha1); `llmd router`
// and `llmd epp` then read the file when no --endpoint or --discovery-file flag is given.

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sched/data_plane.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kFileDiscoveryType = "file-discovery";

struct FileDiscoveryParams {
  std::string path;         // required
  bool watch_file = false;  // llm-d's default: read once at start-up
};
void decode(config::MapReader& m, FileDiscoveryParams& p);

class FileDiscovery final : public Plugin, public EndpointDiscovery {
 public:
  FileDiscovery(TypedName tn, FileDiscoveryParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(std::move(params)) {}
  DiscoveryFile discovery_file() const override { return {params_.path, params_.watch_file}; }

 private:
  FileDiscoveryParams params_;
};

Result<std::shared_ptr<Plugin>> create_file_discovery(const PluginArgs& args);

}  // namespace llmd::sched::plugins

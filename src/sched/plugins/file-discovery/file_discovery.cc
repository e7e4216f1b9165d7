#include "sched/plugins/file-discovery/file_discovery.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, FileDiscoveryParams& p) {
  if (m.require("path", p.path) && p.path.empty()) m.error("path", "must not be empty");
  m.read("watchFile", p.watch_file);
}

Result<std::shared_ptr<Plugin>> create_file_discovery(const PluginArgs& args) {
  return make_plugin<FileDiscovery, FileDiscoveryParams>(args);
}

}  // namespace llmd::sched::plugins

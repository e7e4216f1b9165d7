// Fuzz target for config parsing and strict decoding: any YAML or JSON text must parse or fail
// with a kConfig message, then decode into a sample EndpointPickerConfig-shaped struct (nested
// structs, sequences, maps, enums, durations, raw sub-trees) or fail naming a path.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/serialize.hpp>

#include "config/config.h"

namespace sample {

using llmd::config::EnumName;
using llmd::config::MapReader;
using llmd::config::Node;

enum class Mode { kFcfs, kPriority };
constexpr EnumName<Mode> kModeNames[] = {{"fcfs", Mode::kFcfs}, {"priority", Mode::kPriority}};

struct Ref {
  std::string plugin_ref;
  double weight = 1.0;
};
void decode(MapReader& m, Ref& r) {
  m.require("pluginRef", r.plugin_ref);
  m.read("weight", r.weight);
}

struct Profile {
  std::string name;
  std::vector<Ref> plugins;
};
void decode(MapReader& m, Profile& p) {
  m.require("name", p.name);
  m.read("plugins", p.plugins);
}

struct Plugin {
  std::string name;
  std::string type;
  Node parameters;
};
void decode(MapReader& m, Plugin& p) {
  m.require("type", p.type);
  if (!m.read("name", p.name)) p.name = p.type;
  m.read("parameters", p.parameters);
}

struct Params {
  int32_t block_size = 64;
  uint16_t port = 0;
  std::chrono::milliseconds interval{50};
  std::vector<std::vector<int64_t>> grid;
  boost::json::value extra;
};
void decode(MapReader& m, Params& p) {
  m.read("blockSize", p.block_size);
  m.read("port", p.port);
  m.read("interval", p.interval);
  m.read("grid", p.grid);
  m.read("extra", p.extra);
}

struct Config {
  std::string api_version = "llm-d.ai/v1alpha1";
  std::vector<std::string> feature_gates;
  std::vector<Plugin> plugins;
  std::vector<Profile> profiles;
  std::optional<bool> inject_defaults;
  std::chrono::nanoseconds sync{std::chrono::seconds(1)};
  std::map<std::string, float> weights;
  Mode mode = Mode::kFcfs;
};
void decode(MapReader& m, Config& c) {
  m.read("apiVersion", c.api_version);
  m.read("featureGates", c.feature_gates);
  m.read("plugins", c.plugins);
  m.read("schedulingProfiles", c.profiles);
  MapReader dl = m.map("dataLayer");
  dl.read("injectDefaults", c.inject_defaults);
  dl.read("crossReplicaSyncInterval", c.sync);
  m.read("weights", c.weights);
  m.read("mode", c.mode, kModeNames);
  if (m.has("flowControl")) m.raw("flowControl");
}

}  // namespace sample

namespace {

// YAML allows an implicit key of at most 1024 characters (YAML 1.2, ns-s-implicit-yaml-key), and
// yaml-cpp enforces it, so compact JSON with a longer key (as written, escapes included) is not
// YAML.
bool keys_fit_yaml(const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (boost::json::serialize(boost::json::value(kv.key())).size() > 1024) return false;
      if (!keys_fit_yaml(kv.value())) return false;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) {
      if (!keys_fit_yaml(e)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto node = llmd::config::parse(input, "fuzz.yaml");
  if (!node) {
    if (node.error().code != llmd::ErrorCode::kConfig || node.error().message.empty()) std::abort();
    return 0;
  }
  auto cfg = llmd::config::decode<sample::Config>(*node);
  if (!cfg) {
    if (cfg.error().code != llmd::ErrorCode::kConfig || cfg.error().message.empty()) std::abort();
  } else {
    for (const auto& p : cfg->plugins) {
      if (p.name.empty() && !p.type.empty()) std::abort();  // name defaults to type
      auto params = llmd::config::decode<sample::Params>(p.parameters);
      if (!params && params.error().message.rfind(p.parameters.path(), 0) != 0) std::abort();
    }
  }
  auto json = node->to_json();
  if (json && keys_fit_yaml(*json)) {
    const std::string text = boost::json::serialize(*json);
    // Compact JSON is YAML too, and must read back to the same value.
    auto back = llmd::config::parse(text, "roundtrip.json", text.size() + 1);
    if (!back) std::abort();
    auto json2 = back->to_json();
    if (!json2 || *json2 != *json) std::abort();
  }
  return 0;
}

#include "sched/picker_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "log/log.h"
#include "sched/data.h"
#include "sched/data_plane.h"
#include "sched/handover.h"

namespace llmd::sched {

const std::string_view kDefaultConfigYaml = R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: kv-cache-utilization-scorer
    weight: 2
  - pluginRef: prefix-cache-scorer
    weight: 3
)";

std::string prefix_match_key(std::string_view producer_name) {
  return fmt::format("prefix-match-info/{}", producer_name);
}

namespace {

constexpr std::string_view kDefaultPicker = "max-score-picker";
constexpr std::string_view kDefaultHandler = "single-profile-handler";
constexpr std::string_view kDefaultProfile = "default";
// Sections of llm-d's schema this build does not implement: errors naming their path, never ignored.
constexpr std::string_view kFlowControlNotBuilt = "not supported by this build; see the flow-control work";
constexpr std::string_view kCrossReplicaNotBuilt =
    "not supported by this build (cross-replica state sync between EPP replicas)";
constexpr std::string_view kPeerDiscoveryNotBuilt =
    "not supported by this build (discovery of peer EPP replicas)";
// v1alpha1's spellings of dataLayer.crossReplica.{syncerPluginRef,syncInterval,publishTimeout}.
constexpr std::string_view kCrossReplicaKeys[] = {"crossReplica", "crossReplicaSyncerPluginRef",
                                                  "crossReplicaSyncInterval", "crossReplicaPublishTimeout"};

// Consumes `key` when present and records `problem` at its path.
void reject(config::MapReader& m, std::string_view key, std::string_view problem) {
  if (!m.has(key)) return;
  m.raw(key);
  m.error(key, problem);
}

// dataLayer. llm-d.ai/v1 names the endpoint discovery plugin in discovery.endpoints.pluginRef and groups
// cross-replica sync under crossReplica; v1alpha1 also has discovery.pluginRef and crossReplica* fields
// (llm-d-router pkg/epp/config/loader conversion.go).
void decode_data_layer(config::MapReader& dl, bool v1, DataLayerSpec& d) {
  bool inject = true;
  if (dl.read("injectDefaults", inject)) d.inject_defaults = inject;
  dl.read("sources", d.sources);
  {
    config::MapReader disc = dl.map("discovery");
    disc.read("endpoints", d.discovery);
    if (disc.has("pluginRef")) {
      if (v1) {
        reject(disc, "pluginRef", "not in llm-d.ai/v1; use dataLayer.discovery.endpoints.pluginRef");
      } else {
        PluginRefSpec legacy;
        legacy.node = disc.node();
        if (disc.read("pluginRef", legacy.plugin_ref) && legacy.plugin_ref.empty()) {
          disc.error("pluginRef", "must not be empty");
        }
        if (d.discovery) {
          log::warn(
              "dataLayer.discovery.pluginRef and discovery.endpoints.pluginRef are both set; "
              "endpoints.pluginRef is used");
        } else {
          log::warn("dataLayer.discovery.pluginRef is deprecated",
                    log::kv("use", "discovery.endpoints.pluginRef"));
          d.discovery = std::move(legacy);
        }
      }
    }
    reject(disc, "peers", kPeerDiscoveryNotBuilt);
  }
  for (std::string_view key : kCrossReplicaKeys) reject(dl, key, kCrossReplicaNotBuilt);
}

// requestHandler, and v1alpha1's deprecated top-level parser (requestHandler.parsers wins when both are
// set, as in llm-d's loader).
void decode_request_handler(config::MapReader& m, bool v1, RequestHandlerSpec& r) {
  {
    config::MapReader rh = m.map("requestHandler");
    rh.read("parsers", r.parsers);
    bool propagate = false;
    if (rh.read("propagatePriority", propagate) && propagate) {
      rh.error("propagatePriority", "not supported by this build (llmd forwards the request body unchanged)");
    }
  }
  if (!m.has("parser")) return;
  if (v1) {
    reject(m, "parser", "not in llm-d.ai/v1; use requestHandler.parsers");
    return;
  }
  std::optional<PluginRefSpec> parser;
  m.read("parser", parser);
  if (!parser) return;
  if (!r.parsers.empty()) {
    log::warn("parser and requestHandler.parsers are both set; requestHandler.parsers is used");
  } else {
    log::warn("parser is deprecated", log::kv("use", "requestHandler.parsers"));
    r.parsers.push_back(std::move(*parser));
  }
}

// Default producer type of a CycleState key nobody produces.
std::string_view default_producer_for(std::string_view key) {
  if (key == kTokenizedPromptKey) return "token-producer";
  if (key == kInflightLoadKey) return "inflight-load-producer";
  if (key == kDefaultPrefixMatchKey) return kDefaultPrefixProducer;
  return {};
}

}  // namespace

void decode(config::MapReader& m, PluginSpec& p) {
  p.node = m.node();
  p.type_node = m.raw("type");
  if (p.type_node.is_null()) {
    m.error("type", "missing required field");
  } else if (m.decoder().to_string(p.type_node, p.type) && p.type.empty()) {
    m.error("type", "must not be empty");
  }
  if (!m.read("name", p.name)) p.name = p.type;
  if (p.name.empty()) m.error("name", "must not be empty");
  p.parameters = m.raw("parameters");
}

void decode(config::MapReader& m, ProfilePluginRef& r) {
  r.node = m.node();
  if (m.require("pluginRef", r.plugin_ref) && r.plugin_ref.empty()) m.error("pluginRef", "must not be empty");
  double w = 1.0;
  if (m.read("weight", w)) {
    if (!std::isfinite(w) || w < 0) m.error("weight", "must be a finite number >= 0");
    r.weight = w;
  }
}

void decode(config::MapReader& m, ProfileSpec& p) {
  p.node = m.node();
  if (m.require("name", p.name) && p.name.empty()) m.error("name", "must not be empty");
  m.read("plugins", p.plugins);
}

void decode(config::MapReader& m, PluginRefSpec& r) {
  r.node = m.node();
  if (m.require("pluginRef", r.plugin_ref) && r.plugin_ref.empty()) m.error("pluginRef", "must not be empty");
}

void decode(config::MapReader& m, DataLayerSourceSpec& s) {
  decode(m, s.source);
  m.read("extractors", s.extractors);
}

void decode(config::MapReader& m, EndpointPickerConfig& c) {
  if (m.require("apiVersion", c.api_version) && c.api_version != kApiVersion) {
    if (std::ranges::find(kDeprecatedApiVersions, c.api_version) != std::end(kDeprecatedApiVersions)) {
      log::warn("EndpointPickerConfig apiVersion is deprecated", log::kv("apiVersion", c.api_version),
                log::kv("use", kApiVersion));
    } else {
      m.error("apiVersion",
              fmt::format("unsupported \"{}\"; expected {} (or the deprecated {} or {})", c.api_version,
                          kApiVersion, kDeprecatedApiVersions[0], kDeprecatedApiVersions[1]));
    }
  }
  if (m.require("kind", c.kind) && c.kind != kKind) {
    m.error("kind", fmt::format("must be {}, got \"{}\"", kKind, c.kind));
  }

  config::SeqReader gates = m.seq("featureGates");
  for (size_t i = 0; i < gates.size(); ++i) {
    std::string g;
    const size_t errors_before = m.decoder().error_count();
    gates.read(i, g);
    if (m.decoder().error_count() != errors_before) continue;
    const size_t eq = g.find('=');
    std::string name = g.substr(0, eq);
    bool on = true;
    if (eq != std::string::npos) {
      const std::string v = g.substr(eq + 1);
      if (v == "false") {
        on = false;
      } else if (v != "true") {
        gates.decoder().error(gates.at(i), "expected name, name=true or name=false");
        continue;
      }
    }
    if (name.empty()) {
      gates.decoder().error(gates.at(i), "empty feature gate name");
      continue;
    }
    c.feature_gates[std::move(name)] = on;
  }
  if (auto fc = c.feature_gates.find("flowControl"); fc != c.feature_gates.end() && fc->second) {
    // The gate alone turns on llm-d's flow control with its defaults; here requests are not queued.
    log::warn(
        "featureGates: flowControl is not supported by this build; requests are scheduled without queueing",
        log::kv("path", gates.path()));
  }

  m.read("plugins", c.plugins);
  c.profiles_node = m.raw("schedulingProfiles");
  config::SeqReader profiles(m.decoder(), c.profiles_node);
  c.profiles.resize(profiles.size());
  for (size_t i = 0; i < profiles.size(); ++i) profiles.read(i, c.profiles[i]);

  const bool v1 = c.api_version == kApiVersion;
  {
    config::MapReader dl = m.map("dataLayer");
    decode_data_layer(dl, v1, c.data_layer);
  }
  decode_request_handler(m, v1, c.request_handler);
  reject(m, "flowControl", kFlowControlNotBuilt);
  reject(m, "saturationDetector", kFlowControlNotBuilt);

  // Cross-references, all reported with their paths.
  std::map<std::string_view, size_t> names;
  for (size_t i = 0; i < c.plugins.size(); ++i) {
    const auto& p = c.plugins[i];
    if (p.name.empty()) continue;
    auto [it, inserted] = names.emplace(p.name, i);
    if (!inserted) {
      m.decoder().error(p.node.path() + ".name", p.node,
                        fmt::format("duplicate plugin name \"{}\" (also plugins[{}])", p.name, it->second));
    }
  }
  // dataLayer names configured plugins only (their types are checked when building).
  auto check_ref = [&](const PluginRefSpec& r) {
    if (!r.plugin_ref.empty() && names.count(r.plugin_ref) == 0) {
      m.decoder().error(r.node.path() + ".pluginRef", r.node,
                        fmt::format("unknown plugin \"{}\" (not in plugins)", r.plugin_ref));
    }
  };
  if (c.data_layer.discovery) check_ref(*c.data_layer.discovery);
  for (const auto& src : c.data_layer.sources) {
    check_ref(src.source);
    for (const auto& e : src.extractors) check_ref(e);
  }
  std::set<std::string_view> profile_names;
  for (const auto& prof : c.profiles) {
    if (!prof.name.empty() && !profile_names.insert(prof.name).second) {
      m.decoder().error(prof.node.path() + ".name", prof.node,
                        fmt::format("duplicate profile name \"{}\"", prof.name));
    }
    std::set<std::string_view> refs;
    for (const auto& ref : prof.plugins) {
      if (ref.plugin_ref.empty()) continue;
      if (names.count(ref.plugin_ref) == 0) {
        m.decoder().error(ref.node.path() + ".pluginRef", ref.node,
                          fmt::format("unknown plugin \"{}\" (not in plugins)", ref.plugin_ref));
      } else if (!refs.insert(ref.plugin_ref).second) {
        m.decoder().error(ref.node.path() + ".pluginRef", ref.node,
                          fmt::format("plugin \"{}\" referenced twice in profile", ref.plugin_ref));
      }
    }
  }
  if (c.profiles_node.present() && !c.profiles_node.is_null() && c.profiles.empty()) {
    m.decoder().error(c.profiles_node, "must not be empty");
  }
}

Result<EndpointPickerConfig> parse_endpoint_picker_config(std::string_view text,
                                                          std::string_view source_name) {
  auto node = config::parse(text, source_name);
  if (!node) return node.error();
  // An empty document (or only comments) means "all defaults" (docs/configuration.md): llm-d's default.
  if (node->is_null()) node = config::parse(kDefaultConfigYaml, "<default config>");
  if (!node) return node.error();
  return config::decode<EndpointPickerConfig>(*node);
}

namespace {

// Collects build errors in the same format as decoding errors.
struct Builder {
  const EndpointPickerConfig& cfg;
  const PluginRegistry& registry;
  const Clock& clock;
  const Services& services;
  SchedulerPlan plan;
  std::vector<std::string> errors;
  std::vector<std::string> paths;  // parallel to plan.plugins: where each came from

  // `path: problem (source:line:col)`, as config decoding reports.
  void error(const std::string& path, const config::Node& at, std::string_view problem) {
    const std::string loc = at.present() ? at.location() : std::string();
    errors.push_back(loc.empty() ? fmt::format("{}: {}", path, problem)
                                 : fmt::format("{}: {} ({})", path, problem, loc));
  }

  Plugin* find(std::string_view name) const {
    for (const auto& p : plan.plugins) {
      if (p->typed_name().name == name) return p.get();
    }
    return nullptr;
  }

  // Creates a plugin the defaulting rules add, named by its type, from `parameters` (handed over by
  // another plugin; absent: the defaults). Null (with an error recorded) on failure.
  Plugin* add_default(std::string_view type, std::string_view why, const config::Node& parameters = {}) {
    if (Plugin* existing = find(type)) return existing;
    auto lookup = registry.find(type);
    if (lookup.entry == nullptr) {
      error("(defaults)", config::Node(),
            fmt::format("{} needs plugin type \"{}\", which is not registered", why, type));
      return nullptr;
    }
    const std::string where = parameters.present()
                                  ? fmt::format("(default {}, configured by {})", type, parameters.path())
                                  : fmt::format("(default {})", type);
    PluginArgs args{TypedName{lookup.entry->type, std::string(type)}, parameters, &clock, &services, where};
    auto made = lookup.entry->factory(args);
    if (!made) {
      errors.push_back(made.error().message);
      return nullptr;
    }
    plan.plugins.push_back(std::move(*made));
    paths.push_back(where);
    return plan.plugins.back().get();
  }

  size_t index_of(const Plugin* p) const {
    return static_cast<size_t>(
        std::find_if(plan.plugins.begin(), plan.plugins.end(), [&](const auto& q) { return q.get() == p; }) -
        plan.plugins.begin());
  }

  // "plugin \"x\" (type t) is not <what>".
  static std::string not_a(const Plugin* p, std::string_view what) {
    return fmt::format("plugin \"{}\" (type {}) is not {}", p->typed_name().name, p->typed_name().type, what);
  }

  // Producer parameters given on the plugins that read the producer (handover.h): they configure the
  // producer when it is auto-created, and must agree with it when it is configured.
  void handed_over() {
    const size_t configured = plan.plugins.size();
    for (size_t i = 0; i < configured; ++i) {
      const auto* carrier = dynamic_cast<const CarriesProducerParameters*>(plan.plugins[i].get());
      const HandedOverParameters* h = carrier == nullptr ? nullptr : carrier->handed_over_parameters();
      if (h == nullptr) continue;
      const std::string& where = h->parameters.path();
      Plugin* producer = find(h->producer_name);
      if (producer == nullptr) {
        if (h->producer_name != h->producer_type) {
          error(where, h->parameters,
                fmt::format("{} parameters given, but the producer it reads, \"{}\", is not configured",
                            h->producer_type, h->producer_name));
        } else {
          add_default(h->producer_type, fmt::format("plugin \"{}\"", plan.plugins[i]->typed_name().name),
                      h->parameters);
        }
        continue;
      }
      if (producer->typed_name().type != h->producer_type) {
        error(where, h->parameters,
              fmt::format("{} parameters given, but this plugin reads \"{}\" (type {})", h->producer_type,
                          producer->typed_name().name, producer->typed_name().type));
        continue;
      }
      // What the given parameters would configure, against what the producer uses.
      auto lookup = registry.find(h->producer_type);
      auto wanted = lookup.entry->factory(PluginArgs{TypedName{lookup.entry->type, h->producer_name},
                                                     h->parameters, &clock, &services, where});
      if (!wanted) {
        errors.push_back(wanted.error().message);
        continue;
      }
      const auto* want = dynamic_cast<const DescribesParameters*>(wanted->get());
      const auto* have = dynamic_cast<const DescribesParameters*>(producer);
      if (want == nullptr || have == nullptr) continue;
      for (const auto& kv : h->parameters.yaml()) {
        const std::string key = kv.first.Scalar();
        const auto a = want->parameter_value(key);
        const auto b = have->parameter_value(key);
        if (!a || !b || *a == *b) continue;
        const config::Node at = h->parameters.child(key, kv.second);
        // Where the producer came from: "plugins[0]", or "(default ..., configured by ...)".
        const std::string& from = paths[index_of(producer)];
        error(at.path(), at,
              fmt::format("{} conflicts with {} \"{}\" {}, which uses {}; give the producer's parameters in "
                          "one place",
                          *a, producer->typed_name().type, producer->typed_name().name,
                          from.starts_with('(') ? from : "(" + from + ")", *b));
      }
    }
  }

  // dataLayer and requestHandler: what the data plane is asked to do.
  void data_plane() {
    DataPlanePlan& dp = plan.data_plane;
    const DataLayerSpec& dl = cfg.data_layer;
    if (dl.discovery) {
      const PluginRefSpec& ref = *dl.discovery;
      if (const Plugin* p = find(ref.plugin_ref)) {  // unknown names were reported while decoding
        if (const auto* d = dynamic_cast<const EndpointDiscovery*>(p)) {
          dp.discovery = d->discovery_file();
        } else {
          error(ref.node.path() + ".pluginRef", ref.node, not_a(p, "an endpoint discovery plugin"));
        }
      }
    }
    bool metrics_source = false;
    for (const auto& src : dl.sources) {
      const Plugin* p = find(src.source.plugin_ref);
      if (p == nullptr) continue;
      const std::string path = src.source.node.path() + ".pluginRef";
      const auto* ds = dynamic_cast<const DataSource*>(p);
      if (ds == nullptr) {
        error(path, src.source.node, not_a(p, "a data source"));
        continue;
      }
      if (metrics_source) {
        error(path, src.source.node, "a second metrics source: llmd scrapes each endpoint's metrics once");
        continue;
      }
      metrics_source = true;
      dp.scrape = ds->metrics_scrape();
      for (const auto& e : src.extractors) {
        const Plugin* x = find(e.plugin_ref);
        if (x == nullptr) continue;
        if (const auto* de = dynamic_cast<const DataExtractor*>(x)) {
          dp.default_engine = de->default_engine();
        } else {
          error(e.node.path() + ".pluginRef", e.node, not_a(x, "a data extractor"));
        }
      }
    }
    // llm-d injects its metrics source unless told not to (loader defaults.go ensureDataLayer).
    dp.scrape_metrics = metrics_source || dl.inject_defaults.value_or(true);

    for (const auto& ref : cfg.request_handler.parsers) {
      const std::string path = ref.node.path() + ".pluginRef";
      const Plugin* p = find(ref.plugin_ref);
      // A reference to a parser type that is not configured creates it (loader defaults.go ensureParsers).
      if (p == nullptr && registry.find(ref.plugin_ref).entry != nullptr) {
        p = add_default(ref.plugin_ref, path);
        if (p == nullptr) continue;
      }
      if (p == nullptr) {
        error(path, ref.node,
              fmt::format("unknown plugin \"{}\" (not in plugins, and not a parser type built into llmd)",
                          ref.plugin_ref));
      } else if (dynamic_cast<const RequestParser*>(p) == nullptr) {
        error(path, ref.node, not_a(p, "a parser"));
      } else {
        dp.parsers.push_back(p->typed_name().name);
      }
    }
  }

  void instantiate() {
    for (size_t i = 0; i < cfg.plugins.size(); ++i) {
      const PluginSpec& spec = cfg.plugins[i];
      auto lookup = registry.find(spec.type);
      if (lookup.entry == nullptr) {
        error(spec.type_node.path(), spec.type_node,
              fmt::format("unknown plugin type \"{}\" (not built into llmd; see docs/configuration.md)",
                          spec.type));
        continue;
      }
      if (lookup.deprecated_alias) {
        log::warn("deprecated plugin type", log::kv("path", spec.type_node.path()),
                  log::kv("type", spec.type), log::kv("use", lookup.entry->type));
      }
      PluginArgs args{TypedName{lookup.entry->type, spec.name}, spec.parameters, &clock, &services,
                      spec.node.path()};
      auto made = lookup.entry->factory(args);
      if (!made) {
        // Factories report through config::decode, whose messages already carry the parameter path.
        errors.push_back(made.error().message);
        continue;
      }
      plan.plugins.push_back(std::move(*made));
      paths.push_back(spec.node.path());
    }
  }

  void bind() {
    PluginLookup lookup = [this](std::string_view name) -> const Plugin* { return find(name); };
    for (size_t i = 0; i < plan.plugins.size(); ++i) {
      if (auto r = plan.plugins[i]->bind(lookup); !r) {
        errors.push_back(fmt::format("{}.parameters.{}", paths[i], r.error().message));
      }
    }
  }

  void profiles() {
    if (cfg.profiles.empty()) {
      ProfilePlan prof;
      prof.name = std::string(kDefaultProfile);
      for (const auto& p : plan.plugins) slot(prof, p.get(), std::nullopt, "(default profile)");
      plan.profiles.push_back(std::move(prof));
    } else {
      for (const auto& spec : cfg.profiles) {
        ProfilePlan prof;
        prof.name = spec.name;
        for (const auto& ref : spec.plugins) {
          Plugin* p = find(ref.plugin_ref);
          if (p == nullptr) continue;  // its type failed to instantiate; already reported
          slot(prof, p, ref.weight, ref.node.path());
        }
        plan.profiles.push_back(std::move(prof));
      }
    }
    for (size_t i = 0; i < plan.profiles.size(); ++i) {
      ProfilePlan& prof = plan.profiles[i];
      if (prof.picker.impl != nullptr) continue;
      Plugin* p = add_default(kDefaultPicker, fmt::format("profile \"{}\" has no picker and", prof.name));
      if (p == nullptr) return;
      prof.picker = Bound<Picker>{p, dynamic_cast<const Picker*>(p)};
      if (prof.picker.impl == nullptr) {
        error(fmt::format("schedulingProfiles[{}]", i),
              cfg.profiles.empty() ? config::Node() : cfg.profiles[i].node,
              fmt::format("no picker, and the plugin named \"{}\" is not a picker", kDefaultPicker));
      }
    }
  }

  // Puts a plugin in its profile slot by the interface it implements. `path` names the reference.
  void slot(ProfilePlan& prof, const Plugin* p, std::optional<double> weight, const std::string& path) {
    const bool implicit = !weight.has_value() && path == "(default profile)";
    if (const auto* s = dynamic_cast<const Scorer*>(p)) {
      prof.scorers.push_back(WeightedScorer{p, s, weight.value_or(1.0)});
      return;
    }
    if (weight.has_value()) {
      error(
          path + ".weight", config::Node(),
          fmt::format("plugin \"{}\" is not a scorer; weight applies to scorers only", p->typed_name().name));
    }
    if (const auto* f = dynamic_cast<const Filter*>(p)) {
      prof.filters.push_back(Bound<Filter>{p, f});
    } else if (const auto* k = dynamic_cast<const Picker*>(p)) {
      if (prof.picker.impl != nullptr) {
        error(path + ".pluginRef", config::Node(),
              fmt::format("profile \"{}\" already has picker \"{}\"", prof.name,
                          prof.picker.plugin->typed_name().name));
      } else {
        prof.picker = Bound<Picker>{p, k};
      }
    } else if (!implicit) {
      error(path + ".pluginRef", config::Node(),
            fmt::format("plugin \"{}\" (type {}) is not a filter, scorer or picker", p->typed_name().name,
                        p->typed_name().type));
    }
  }

  void handler() {
    std::vector<std::string> names;
    for (const auto& p : plan.profiles) names.push_back(p.name);
    for (size_t i = 0; i < plan.plugins.size(); ++i) {
      const Plugin* p = plan.plugins[i].get();
      if (const auto* h = dynamic_cast<const ProfileHandler*>(p)) {
        if (plan.handler.impl != nullptr) {
          error(paths[i], config::Node(),
                fmt::format("second profile handler \"{}\" (already \"{}\")", p->typed_name().name,
                            plan.handler.plugin->typed_name().name));
          continue;
        }
        plan.handler = Bound<ProfileHandler>{p, h};
      }
    }
    if (plan.handler.impl == nullptr) {
      if (plan.profiles.size() != 1) {
        error("schedulingProfiles", cfg.profiles_node,
              fmt::format("{} profiles need a profile handler plugin", plan.profiles.size()));
        return;
      }
      Plugin* p = add_default(kDefaultHandler, "a single profile without a handler");
      if (p == nullptr) return;
      plan.handler = Bound<ProfileHandler>{p, dynamic_cast<const ProfileHandler*>(p)};
      if (plan.handler.impl == nullptr) {
        error("(defaults)", config::Node(),
              fmt::format("plugin \"{}\" is not a profile handler", kDefaultHandler));
        return;
      }
    }
    if (auto r = plan.handler.impl->check_profiles(names); !r) {
      error(paths[index_of(plan.handler.plugin)], config::Node(), r.error().message);
    }
  }

  // Adds default producers for consumed keys nobody produces, then orders producers by dependency.
  void producers() {
    std::map<std::string, size_t> producer_of;  // key → plugin index
    auto index_producers = [&]() {
      producer_of.clear();
      for (size_t i = 0; i < plan.plugins.size(); ++i) {
        const auto* dp = dynamic_cast<const DataProducer*>(plan.plugins[i].get());
        if (dp == nullptr) continue;
        for (const auto& key : dp->produces()) {
          auto [it, inserted] = producer_of.emplace(key, i);
          if (!inserted && it->second != i) {
            error(paths[i], config::Node(),
                  fmt::format("data \"{}\" is already produced by \"{}\"", key,
                              plan.plugins[it->second]->typed_name().name));
          }
        }
      }
    };
    index_producers();
    // Each pass may add producers with needs of their own; the chain is short (token → prefix).
    for (size_t pass = 0; pass < 8; ++pass) {
      bool added = false;
      for (size_t i = 0; i < plan.plugins.size(); ++i) {
        for (const auto& key : plan.plugins[i]->consumes()) {
          if (producer_of.count(key) != 0) continue;
          const std::string_view type = default_producer_for(key);
          if (type.empty()) {
            error(paths[i], config::Node(),
                  fmt::format("needs data \"{}\", which no configured plugin produces", key));
            producer_of.emplace(key, SIZE_MAX);
            continue;
          }
          Plugin* p = add_default(
              type, fmt::format("data \"{}\" needed by \"{}\"", key, plan.plugins[i]->typed_name().name));
          if (p == nullptr) {
            producer_of.emplace(key, SIZE_MAX);
            continue;
          }
          added = true;
          index_producers();
        }
      }
      if (!added) break;
    }

    // Kahn's algorithm over produce/consume edges, keeping configuration order among equals.
    std::vector<size_t> prod;
    for (size_t i = 0; i < plan.plugins.size(); ++i) {
      if (dynamic_cast<const DataProducer*>(plan.plugins[i].get()) != nullptr) prod.push_back(i);
    }
    std::vector<bool> done(plan.plugins.size(), false);
    for (size_t emitted = 0; emitted < prod.size();) {
      bool progress = false;
      for (size_t i : prod) {
        if (done[i]) continue;
        bool ready = true;
        for (const auto& key : plan.plugins[i]->consumes()) {
          auto it = producer_of.find(key);
          if (it != producer_of.end() && it->second != SIZE_MAX && it->second != i && !done[it->second])
            ready = false;
        }
        if (!ready) continue;
        done[i] = true;
        ++emitted;
        progress = true;
        const Plugin* p = plan.plugins[i].get();
        plan.producers.push_back(Bound<DataProducer>{p, dynamic_cast<const DataProducer*>(p)});
      }
      if (!progress) {
        error("plugins", config::Node(), "data producers depend on each other in a cycle");
        return;
      }
    }
  }

  void hooks() {
    for (const auto& sp : plan.plugins) {
      const Plugin* p = sp.get();
      if (const auto* pr = dynamic_cast<const PreRequest*>(p))
        plan.pre_request.push_back(Bound<PreRequest>{p, pr});
      if (const auto* rh = dynamic_cast<const ResponseHooks*>(p)) {
        plan.response_hooks.push_back(Bound<ResponseHooks>{p, rh});
      }
    }
  }
};

}  // namespace

Result<SchedulerPlan> build_scheduler_plan(const EndpointPickerConfig& config, const PluginRegistry& registry,
                                           const Clock& clock, const Services& services) {
  Builder b{config, registry, clock, services, {}, {}, {}};
  auto failed = [&]() {
    return make_error(ErrorCode::kConfig, fmt::format("{}", fmt::join(b.errors, "; ")));
  };
  b.instantiate();
  if (!b.errors.empty()) return failed();
  b.bind();
  b.handed_over();
  b.profiles();
  b.handler();
  b.producers();
  b.data_plane();
  b.hooks();
  if (!b.errors.empty()) return failed();
  b.plan.feature_gates = config.feature_gates;
  return std::move(b.plan);
}

Result<SchedulerPlan> load_scheduler_plan(std::string_view text, const PluginRegistry& registry,
                                          const Clock& clock, std::string_view source_name,
                                          const Services& services) {
  auto cfg = parse_endpoint_picker_config(text, source_name);
  if (!cfg) return cfg.error();
  return build_scheduler_plan(*cfg, registry, clock, services);
}

}  // namespace llmd::sched

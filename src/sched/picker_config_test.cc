#include "sched/picker_config.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sched/builtin_plugins.h"
#include "sched/data.h"
#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"
#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"

namespace llmd::sched {
namespace {

TEST(PrefixMatchKey, DefaultKeyIsTheDefaultProducersKey) {
  EXPECT_EQ(prefix_match_key(kDefaultPrefixProducer), kDefaultPrefixMatchKey);
}

std::string fixture(const std::string& name) {
  const std::string path = std::string(LLMD_SCHED_TESTDATA) + "/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<SchedulerPlan> load(std::string_view text) {
  static ManualClock clock;
  return load_scheduler_plan(text, builtin_registry(), clock, "test.yaml");
}

std::vector<std::string> names(const std::vector<Bound<DataProducer>>& v) {
  std::vector<std::string> out;
  for (const auto& b : v) out.push_back(b.plugin->typed_name().name);
  return out;
}

struct ScorerView {
  std::string name;
  double weight;
  bool operator==(const ScorerView&) const = default;
};
std::vector<ScorerView> scorers(const ProfilePlan& p) {
  std::vector<ScorerView> out;
  for (const auto& s : p.scorers) out.push_back({s.plugin->typed_name().name, s.weight});
  return out;
}
std::ostream& operator<<(std::ostream& os, const ScorerView& s) { return os << s.name << "×" << s.weight; }

void expect_default_profile(const SchedulerPlan& plan) {
  ASSERT_EQ(plan.profiles.size(), 1u);
  const ProfilePlan& p = plan.profiles[0];
  EXPECT_EQ(p.name, "default");
  EXPECT_TRUE(p.filters.empty());
  EXPECT_EQ(scorers(p),
            (std::vector<ScorerView>{
                {"queue-scorer", 2}, {"kv-cache-utilization-scorer", 2}, {"prefix-cache-scorer", 3}}));
  EXPECT_EQ(p.picker.plugin->typed_name().type, "max-score-picker");
  EXPECT_EQ(plan.handler.plugin->typed_name().type, "single-profile-handler");
  // prefix-cache-scorer pulls in the approximate producer, which pulls in the estimate tokenizer.
  EXPECT_EQ(names(plan.producers),
            (std::vector<std::string>{"token-producer", "approx-prefix-cache-producer"}));
  ASSERT_EQ(plan.pre_request.size(), 1u);
  EXPECT_EQ(plan.pre_request[0].plugin->typed_name().name, "approx-prefix-cache-producer");
}

TEST(PickerConfigTest, NoConfigIsLlmdsDefault) {
  for (const char* text : {"", "\n  \n", "# only a comment\n", "~\n"}) {
    auto plan = load(text);
    ASSERT_TRUE(plan) << plan.error().message;
    expect_default_profile(*plan);
  }
}

TEST(PickerConfigTest, DefaultPluginsFixture) {
  auto plan = load(fixture("default-plugins.yaml"));
  ASSERT_TRUE(plan) << plan.error().message;
  expect_default_profile(*plan);
}

TEST(PickerConfigTest, OptimizedBaselineFixture) {
  auto plan = load(fixture("optimized-baseline.yaml"));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->profiles.size(), 1u);
  const ProfilePlan& p = plan->profiles[0];
  ASSERT_EQ(p.filters.size(), 1u);
  EXPECT_EQ(p.filters[0].plugin->typed_name().type, "prefix-cache-affinity-filter");
  EXPECT_EQ(scorers(p), (std::vector<ScorerView>{{"token-load-scorer", 1}}));
  EXPECT_EQ(p.picker.plugin->typed_name().type, "max-score-picker");
  // The configured producers are used; only the tokenizer is added, and it runs first.
  const auto order = names(plan->producers);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], "token-producer");
  EXPECT_NE(std::find(order.begin(), order.end(), "inflight-load-producer"), order.end());
  const auto* approx = dynamic_cast<const plugins::ApproxPrefixCacheProducer*>(
      plan->find_plugin("approx-prefix-cache-producer"));
  ASSERT_NE(approx, nullptr);
  EXPECT_EQ(approx->max_blocks_for(64), 640u);  // maxPrefixTokensToMatch 40960
  EXPECT_EQ(plan->response_hooks.size(), 1u);
}

TEST(PickerConfigTest, IsV03SampleFixture) {
  auto plan = load(fixture("is-v03-epp-config.yaml"));
  ASSERT_TRUE(plan) << plan.error().message;
  const ProfilePlan& p = plan->profiles.at(0);
  ASSERT_EQ(p.filters.size(), 1u);
  EXPECT_EQ(p.filters[0].plugin->typed_name().name, "decode-filter");
  EXPECT_EQ(scorers(p), (std::vector<ScorerView>{{"prefix-cache-scorer", 2}}));
}

TEST(PickerConfigTest, UnbuiltPluginTypesFailWithTheirPath) {
  struct Case {
    const char* file;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"precise-prefix.yaml", {"plugins[2].type: unknown plugin type \"precise-prefix-cache-scorer\""}},
      {"pd.yaml",
       {"plugins[4].type: unknown plugin type \"prefix-based-pd-decider\"",
        "plugins[5].type: unknown plugin type \"disagg-profile-handler\""}},
      {"pd-legacy.yaml",
       {"plugins[0].type: unknown plugin type \"prefill-header-handler\"",
        "plugins[5].type: unknown plugin type \"pd-profile-handler\""}},
  };
  for (const auto& c : cases) {
    auto plan = load(fixture(c.file));
    ASSERT_FALSE(plan) << c.file;
    EXPECT_EQ(plan.error().code, ErrorCode::kConfig);
    for (const auto& w : c.want)
      EXPECT_NE(plan.error().message.find(w), std::string::npos) << plan.error().message;
  }
}

TEST(PickerConfigTest, V1AndTheDeprecatedApiVersionsLoad) {
  for (const char* v : {"llm-d.ai/v1", "llm-d.ai/v1alpha1", "inference.networking.x-k8s.io/v1alpha1"}) {
    auto plan = load(std::string("apiVersion: ") + v +
                     "\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n");
    EXPECT_TRUE(plan.has_value()) << v << ": " << (plan ? "" : plan.error().message);
  }
  auto bad = load("apiVersion: llm-d.ai/v2\nkind: EndpointPickerConfig\n");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("apiVersion: unsupported \"llm-d.ai/v2\"; expected llm-d.ai/v1"),
            std::string::npos)
      << bad.error().message;
}

TEST(PickerConfigTest, ErrorsNameTheirPath) {
  const std::string head = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
  const std::pair<std::string, std::string> cases[] = {
      {"apiVersion: v2\nkind: EndpointPickerConfig\n", "apiVersion: unsupported \"v2\""},
      {"kind: EndpointPickerConfig\n", "apiVersion: missing required field"},
      {"apiVersion: llm-d.ai/v1alpha1\nkind: Pod\n", "kind: must be EndpointPickerConfig"},
      {head + "plugins:\n- name: x\n", "plugins[0].type: missing required field"},
      {head + "plugins:\n- type: queue-scorer\n- type: queue-scorer\n",
       "plugins[1].name: duplicate plugin name \"queue-scorer\" (also plugins[0])"},
      {head + "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: "
              "nope\n",
       "schedulingProfiles[0].plugins[0].pluginRef: unknown plugin \"nope\""},
      {head + "plugins:\n- type: queue-scorer\n- type: approx-prefix-cache-producer\n  parameters:\n    "
              "blockSizeTokens: 0\n",
       "plugins[1].parameters.blockSizeTokens: must be > 0"},
      {head + "plugins:\n- type: load-aware-scorer\n  parameters: {threshhold: 5}\n",
       "plugins[0].parameters.threshhold: unknown field"},
      {head + "plugins:\n- type: load-aware-scorer\n  parameters: {threshold: \"5\"}\n",
       "plugins[0].parameters.threshold: expected integer"},
      {head + "plugins:\n- type: decode-filter\nschedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: "
              "decode-filter\n    weight: 2\n",
       "schedulingProfiles[0].plugins[0].weight: plugin \"decode-filter\" is not a scorer"},
      {head + "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: "
              "queue-scorer\n    weight: -1\n",
       "schedulingProfiles[0].plugins[0].weight: must be a finite number >= 0"},
      {head + "plugins:\n- type: random-picker\n- type: max-score-picker\nschedulingProfiles:\n- name: p\n  "
              "plugins:\n"
              "  - pluginRef: random-picker\n  - pluginRef: max-score-picker\n",
       "schedulingProfiles[0].plugins[1].pluginRef: profile \"p\" already has picker \"random-picker\""},
      {head + "plugins:\n- type: single-profile-handler\n- type: queue-scorer\nschedulingProfiles:\n- name: "
              "p\n  plugins:\n"
              "  - pluginRef: single-profile-handler\n",
       "schedulingProfiles[0].plugins[0].pluginRef: plugin \"single-profile-handler\" (type "
       "single-profile-handler) is not a "
       "filter, scorer or picker"},
      {head + "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: "
              "queue-scorer}]\n"
              "- name: b\n  plugins: [{pluginRef: queue-scorer}]\n",
       "schedulingProfiles: 2 profiles need a profile handler plugin"},
      {head + "plugins:\n- type: single-profile-handler\n- type: queue-scorer\nschedulingProfiles:\n- name: "
              "a\n  plugins: []\n"
              "- name: b\n  plugins: []\n",
       "plugins[0]: single-profile-handler needs exactly one profile, got 2"},
      {head + "plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n- name: a\n",
       "schedulingProfiles[1].name: duplicate profile name \"a\""},
      {head + "featureGates: [flowControl, \"x=maybe\"]\n",
       "featureGates[1]: expected name, name=true or name=false"},
      {head + "flowControl:\n  maxRequests: \"1k\"\n",
       "flowControl: not supported by this build; see the flow-control work (test.yaml:4:3)"},
      {head + "saturationDetector:\n  pluginRef: utilization-detector\n",
       "saturationDetector: not supported by this build; see the flow-control work (test.yaml:4:3)"},
      {head + "dataLayer:\n  crossReplicaSyncInterval: 1s\n",
       "dataLayer.crossReplicaSyncInterval: not supported by this build (cross-replica state sync between "
       "EPP "
       "replicas)"},
      {head + "dataLayer:\n  injectDefault: true\n", "dataLayer.injectDefault: unknown field"},
      {head + "requestHandler:\n  parser: {pluginRef: openai-parser}\n",
       "requestHandler.parser: unknown field"},
      {head + "plugin:\n- type: queue-scorer\n", "plugin: unknown field"},
      {head + "plugins:\n- type: no-hit-lru-scorer\n  parameters: {prefixPluginName: pfx}\n",
       "plugins[0].parameters.prefixPluginName: no plugin named \"pfx\""},
      {head + "plugins:\n- type: inflight-load-producer\n- type: inflight-load-producer\n  name: again\n",
       "plugins[1]: data \"inflight-load\" is already produced by \"inflight-load-producer\""},
      {"apiVersion: [1\n", "test.yaml:2:1: end of sequence flow not found"},
  };
  for (const auto& [yaml, want] : cases) {
    auto plan = load(yaml);
    ASSERT_FALSE(plan) << yaml;
    EXPECT_EQ(plan.error().code, ErrorCode::kConfig) << yaml;
    EXPECT_NE(plan.error().message.find(want), std::string::npos)
        << "want: " << want << "\ngot: " << plan.error().message;
  }
}

TEST(PickerConfigTest, ErrorsCarryTheSourceLocation) {
  auto plan = load("apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: mystery\n");
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("plugins[0].type: unknown plugin type \"mystery\""), std::string::npos);
  EXPECT_NE(plan.error().message.find("test.yaml:4:"), std::string::npos) << plan.error().message;
}

TEST(PickerConfigTest, DefaultingRules) {
  // No schedulingProfiles: one "default" profile with every filter, scorer and picker, weight 1.
  auto plan = load(R"(apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: ["flowControl", "haPopulateNonLeaderDatastore=false", "x=true"]
plugins:
- type: decode-filter
- type: kv-cache-scorer
- name: lb
  type: load-aware-scorer
  parameters: {threshold: 64}
- type: by-label-selector
  parameters: {matchLabels: {zone: a}}
- type: weighted-random-picker
  parameters: {maxNumOfEndpoints: 2}
)");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->profiles.size(), 1u);
  const ProfilePlan& p = plan->profiles[0];
  EXPECT_EQ(p.name, "default");
  ASSERT_EQ(p.filters.size(), 2u);
  EXPECT_EQ(p.filters[1].plugin->typed_name().type, "label-selector-filter");
  EXPECT_EQ(p.filters[1].plugin->typed_name().name, "by-label-selector");
  EXPECT_EQ(scorers(p), (std::vector<ScorerView>{{"kv-cache-scorer", 1}, {"lb", 1}}));
  EXPECT_EQ(p.scorers[0].plugin->typed_name().type, "kv-cache-utilization-scorer");
  EXPECT_EQ(p.picker.plugin->typed_name().type, "weighted-random-picker");
  EXPECT_EQ(plan->handler.plugin->typed_name().type, "single-profile-handler");
  EXPECT_TRUE(plan->producers.empty());
  EXPECT_EQ(plan->feature_gates.at("flowControl"), true);
  EXPECT_EQ(plan->feature_gates.at("haPopulateNonLeaderDatastore"), false);
  EXPECT_EQ(plan->feature_gates.at("x"), true);
}

TEST(PickerConfigTest, SeveralProfilesNeedAHandler) {
  auto plan = load(R"(apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: round-robin
schedulingProfiles:
- name: rr
  plugins:
  - pluginRef: round-robin
- name: scored
  plugins:
  - pluginRef: queue-scorer
- name: empty
)");
  // Three profiles and no handler: an error, but only that one.
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message.find(';'), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find("3 profiles need a profile handler"), std::string::npos);
}

TEST(PickerConfigTest, ParseKeepsRawParameters) {
  auto cfg = parse_endpoint_picker_config(fixture("precise-prefix.yaml"), "precise.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  ASSERT_EQ(cfg->plugins.size(), 6u);
  EXPECT_EQ(cfg->plugins[2].type, "precise-prefix-cache-scorer");
  EXPECT_EQ(cfg->plugins[2].parameters.path(), "plugins[2].parameters");
  EXPECT_EQ(cfg->plugins[3].name, "kv-cache-scorer");
  EXPECT_EQ(cfg->profiles.at(0).plugins.at(1).weight, 2.0);
  EXPECT_FALSE(cfg->profiles.at(0).plugins.at(0).weight.has_value());
}

// A shared service and a scorer that cannot work without it, as a precise-prefix scorer needs its
// KV-block index.
struct BlockIndexService {
  int blocks = 0;
};

class IndexedScorer final : public Plugin, public Scorer {
 public:
  IndexedScorer(TypedName tn, std::shared_ptr<BlockIndexService> index)
      : Plugin(std::move(tn)), index_(std::move(index)) {}
  ScorerCategory category() const override { return ScorerCategory::kAffinity; }
  void score(const SchedulingContext&, std::span<const Candidate>, std::span<double> out) const override {
    for (double& v : out) v = index_->blocks;
  }
  const BlockIndexService& index() const { return *index_; }

 private:
  std::shared_ptr<BlockIndexService> index_;
};

Result<std::shared_ptr<Plugin>> create_indexed_scorer(const PluginArgs& args) {
  auto index = require_service<BlockIndexService>(args, "KV-block index");
  if (!index) return index.error();
  return std::shared_ptr<Plugin>(std::make_shared<IndexedScorer>(args.typed_name, *index));
}

TEST(PickerConfigTest, PluginsGetTheServicesTheDataPlaneProvides) {
  PluginRegistry registry;
  ASSERT_TRUE(register_builtin_plugins(registry));
  ASSERT_TRUE(registry.add("indexed-scorer", create_indexed_scorer));
  const std::string text = R"(apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: indexed-scorer
  name: idx
)";
  ManualClock clock;
  auto missing = load_scheduler_plan(text, registry, clock, "svc.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  EXPECT_NE(
      missing.error().message.find("plugins[1]: plugin type \"indexed-scorer\" needs the KV-block index"),
      std::string::npos)
      << missing.error().message;

  Services services;
  auto index = std::make_shared<BlockIndexService>();
  index->blocks = 7;
  services.provide(index);
  auto plan = load_scheduler_plan(text, registry, clock, "svc.yaml", services);
  ASSERT_TRUE(plan) << plan.error().message;
  const auto* scorer = dynamic_cast<const IndexedScorer*>(plan->find_plugin("idx"));
  ASSERT_NE(scorer, nullptr);
  EXPECT_EQ(&scorer->index(), index.get());
}

}  // namespace
}  // namespace llmd::sched

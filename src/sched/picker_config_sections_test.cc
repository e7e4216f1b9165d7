// EndpointPickerConfig beyond plugins and profiles: producer parameters given on prefix-cache-scorer,
// the dataLayer, requestHandler and (rejected) flow-control sections.

#include <span>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"
#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"

namespace llmd::sched {
namespace {

Result<SchedulerPlan> load(std::string_view text) {
  static ManualClock clock;
  return load_scheduler_plan(text, builtin_registry(), clock, "test.yaml");
}

// Loads `text`, which must fail, and returns the message.
std::string error_of(std::string_view text) {
  auto plan = load(text);
  EXPECT_FALSE(plan) << text;
  if (plan) return "";
  EXPECT_EQ(plan.error().code, ErrorCode::kConfig);
  return plan.error().message;
}

// Each config must fail with a message that contains its text.
void expect_errors(std::span<const std::pair<std::string, std::string>> cases) {
  for (const auto& [yaml, want] : cases) {
    const std::string got = error_of(yaml);
    EXPECT_NE(got.find(want), std::string::npos) << "want: " << want << "\ngot:  " << got;
  }
}

const plugins::ApproxPrefixCacheProducer* approx(const SchedulerPlan& plan,
                                                 std::string_view name = kDefaultPrefixProducer) {
  return dynamic_cast<const plugins::ApproxPrefixCacheProducer*>(plan.find_plugin(name));
}

constexpr std::string_view kV1alpha1 = "apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n";
constexpr std::string_view kV1 = "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\n";

std::string v1alpha1(std::string_view rest) { return std::string(kV1alpha1) + std::string(rest); }
std::string v1(std::string_view rest) { return std::string(kV1) + std::string(rest); }

// ---------------------------------------------------------------------------------------------
// prefix-cache-scorer's producer parameters

TEST(ScorerProducerParameters, ConfigureTheAutoCreatedProducer) {
  auto plan = load(v1alpha1(R"(plugins:
- type: prefix-cache-scorer
  parameters:
    blockSizeTokens: 128
    autoTune: false
    maxPrefixBlocksToMatch: 256
    maxPrefixTokensToMatch: 0
    lruCapacityPerServer: 1000
)"));
  ASSERT_TRUE(plan) << plan.error().message;
  const auto* p = approx(*plan);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->block_size_for(nullptr), 128);
  EXPECT_EQ(p->max_blocks_for(128), 256u);
  EXPECT_EQ(p->parameter_value("lruCapacityPerServer"), "1000");
  EXPECT_EQ(p->parameter_value("autoTune"), "false");
  // Still exactly one producer of each kind, in dependency order.
  ASSERT_EQ(plan->producers.size(), 2u);
  EXPECT_EQ(plan->producers[1].plugin, p);
}

TEST(ScorerProducerParameters, WithoutThemTheProducerHasItsDefaults) {
  auto plan = load(v1alpha1("plugins:\n- type: prefix-cache-scorer\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_NE(approx(*plan), nullptr);
  EXPECT_EQ(approx(*plan)->parameter_value("lruCapacityPerServer"), "31250");
  EXPECT_EQ(approx(*plan)->parameter_value("blockSizeTokens"), "16");
}

// GIE's hashBlockSize counted characters; it becomes tokens at 4 characters per token.
TEST(ScorerProducerParameters, HashBlockSizeIsCharacters) {
  struct Case {
    const char* params;
    const char* block_size_tokens;
  };
  const Case cases[] = {
      {"{hashBlockSize: 512}", "128"},
      {"{hashBlockSize: 5}", "2"},  // floored at 64 tokens when hashing
      {"{hashBlockSize: 64, blockSizeTokens: 32}", "32"},
  };
  for (const auto& c : cases) {
    auto plan = load(
        v1alpha1(std::string("plugins:\n- type: prefix-cache-scorer\n  parameters: ") + c.params + "\n"));
    ASSERT_TRUE(plan) << c.params << ": " << plan.error().message;
    ASSERT_NE(approx(*plan), nullptr);
    EXPECT_EQ(approx(*plan)->parameter_value("blockSizeTokens"), c.block_size_tokens) << c.params;
  }
}

TEST(ScorerProducerParameters, AgreeingWithAConfiguredProducerIsFine) {
  auto plan = load(v1alpha1(R"(plugins:
- type: approx-prefix-cache-producer
  parameters: {maxPrefixTokensToMatch: 4096}
- type: prefix-cache-scorer
  parameters: {lruCapacityPerServer: 31250, maxPrefixTokensToMatch: 4096}
)"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(approx(*plan)->max_blocks_for(64), 64u);
}

TEST(ScorerProducerParameters, ErrorsNameTheScorersParameter) {
  const std::pair<std::string, std::string> cases[] = {
      // Disagrees with the producer configured explicitly.
      {v1alpha1("plugins:\n- type: approx-prefix-cache-producer\n- type: prefix-cache-scorer\n"
                "  parameters: {lruCapacityPerServer: 1000}\n"),
       "plugins[1].parameters.lruCapacityPerServer: 1000 conflicts with approx-prefix-cache-producer "
       "\"approx-prefix-cache-producer\" (plugins[0]), which uses 31250; give the producer's parameters in "
       "one "
       "place (test.yaml:6:38)"},
      // Two scorers that disagree about the producer both read.
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n  parameters: {autoTune: false}\n"
                "- type: prefix-cache-scorer\n  name: second\n  parameters: {autoTune: true}\n"),
       "plugins[1].parameters.autoTune: true conflicts with approx-prefix-cache-producer "
       "\"approx-prefix-cache-producer\" (default approx-prefix-cache-producer, configured by "
       "plugins[0].parameters), which uses false; give the producer's parameters in one place"},
      // Parameters of the approximate producer on a scorer that reads another producer.
      {v1alpha1("plugins:\n- type: inflight-load-producer\n  name: mine\n- type: prefix-cache-scorer\n"
                "  parameters: {prefixMatchInfoProducerName: mine, blockSizeTokens: 64}\n"),
       "plugins[1].parameters: approx-prefix-cache-producer parameters given, but this plugin reads \"mine\" "
       "(type inflight-load-producer)"},
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n"
                "  parameters: {prefixMatchInfoProducerName: elsewhere, blockSizeTokens: 64}\n"),
       "plugins[0].parameters: approx-prefix-cache-producer parameters given, but the producer it reads, "
       "\"elsewhere\", is not configured"},
      // The producer's own checks, at the scorer's path.
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n  parameters: {blockSizeTokens: 0}\n"),
       "plugins[0].parameters.blockSizeTokens: must be > 0 (test.yaml:5:33)"},
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n  parameters: {blockSize: 64}\n"),
       "plugins[0].parameters.blockSize: deprecated block size in characters; give blockSizeTokens (in "
       "tokens) instead"},
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n  parameters: {hashBlockSize: 0}\n"),
       "plugins[0].parameters.hashBlockSize: must be > 0"},
      {v1alpha1("plugins:\n- type: prefix-cache-scorer\n  parameters: {lruCapacityPerServer: many}\n"),
       "plugins[0].parameters.lruCapacityPerServer: expected integer, got string \"many\""},
  };
  expect_errors(cases);
}

// ---------------------------------------------------------------------------------------------
// dataLayer

TEST(DataLayer, V1DiscoveryEndpointsNamesTheFile) {
  auto plan = load(v1(R"(plugins:
- type: queue-scorer
- name: disc
  type: file-discovery
  parameters: {path: /etc/epp/endpoints.yaml, watchFile: true}
dataLayer:
  discovery:
    endpoints:
      pluginRef: disc
)"));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->data_plane.discovery.has_value());
  EXPECT_EQ(plan->data_plane.discovery->path, "/etc/epp/endpoints.yaml");
  EXPECT_TRUE(plan->data_plane.discovery->watch);
  EXPECT_TRUE(plan->data_plane.scrape_metrics);  // injectDefaults defaults to true
  // The discovery plugin is not slotted into the default profile.
  ASSERT_EQ(plan->profiles.size(), 1u);
  EXPECT_EQ(plan->profiles[0].scorers.size(), 1u);
  EXPECT_TRUE(plan->profiles[0].filters.empty());
}

TEST(DataLayer, V1alpha1DiscoveryPluginRefIsTheOlderSpelling) {
  auto plan =
      load(v1alpha1("plugins:\n- type: file-discovery\n  parameters: {path: e.yaml}\n"
                    "dataLayer:\n  discovery:\n    pluginRef: file-discovery\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->data_plane.discovery.has_value());
  EXPECT_EQ(plan->data_plane.discovery->path, "e.yaml");
  EXPECT_FALSE(plan->data_plane.discovery->watch);

  // Both spellings: endpoints.pluginRef is used, as in llm-d's conversion.
  auto both = load(v1alpha1(R"(plugins:
- {name: a, type: file-discovery, parameters: {path: a.yaml}}
- {name: b, type: file-discovery, parameters: {path: b.yaml}}
dataLayer:
  discovery:
    pluginRef: a
    endpoints: {pluginRef: b}
)"));
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->data_plane.discovery->path, "b.yaml");
}

TEST(DataLayer, NoDiscoveryMeansTheFlags) {
  auto plan = load(v1("plugins:\n- type: queue-scorer\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_FALSE(plan->data_plane.discovery.has_value());
  EXPECT_TRUE(plan->data_plane.scrape_metrics);
  EXPECT_EQ(plan->data_plane.scrape.path, "/metrics");
  EXPECT_EQ(plan->data_plane.default_engine, "vllm");
}

TEST(DataLayer, SourcesSetTheScrape) {
  const std::string plugins = R"(plugins:
- type: queue-scorer
- name: src
  type: metrics-data-source
  parameters: {path: /stats, interval: 200ms}
- name: x
  type: core-metrics-extractor
  parameters: {defaultEngine: sglang}
)";
  auto plan = load(v1(plugins + "dataLayer:\n  injectDefaults: false\n  sources:\n  - pluginRef: src\n"
                                "    extractors:\n    - pluginRef: x\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->data_plane.scrape_metrics);
  EXPECT_EQ(plan->data_plane.scrape.path, "/stats");
  EXPECT_EQ(plan->data_plane.scrape.interval, std::chrono::milliseconds(200));
  EXPECT_EQ(plan->data_plane.default_engine, "sglang");

  // injectDefaults: false and no metrics source: nothing is scraped (llm-d: "metrics collection is
  // disabled"). A source plugin that no source entry names has no effect.
  auto none = load(v1(plugins + "dataLayer:\n  injectDefaults: false\n"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->data_plane.scrape_metrics);
  EXPECT_EQ(none->data_plane.scrape.path, "/metrics");

  auto injected = load(v1(plugins + "dataLayer:\n  injectDefaults: true\n"));
  ASSERT_TRUE(injected) << injected.error().message;
  EXPECT_TRUE(injected->data_plane.scrape_metrics);
}

TEST(DataLayer, ErrorsNameTheirPath) {
  const std::string disc =
      "plugins:\n- type: queue-scorer\n- type: file-discovery\n  parameters: {path: e.yaml}\n";
  const std::pair<std::string, std::string> cases[] = {
      {v1(disc + "dataLayer:\n  discovery:\n    pluginRef: file-discovery\n"),
       "dataLayer.discovery.pluginRef: not in llm-d.ai/v1; use dataLayer.discovery.endpoints.pluginRef "
       "(test.yaml:9:16)"},
      {v1(disc + "dataLayer:\n  discovery:\n    endpoints: {pluginRef: nope}\n"),
       "dataLayer.discovery.endpoints.pluginRef: unknown plugin \"nope\" (not in plugins) (test.yaml:9:16)"},
      {v1(disc + "dataLayer:\n  discovery:\n    endpoints: {pluginRef: queue-scorer}\n"),
       "dataLayer.discovery.endpoints.pluginRef: plugin \"queue-scorer\" (type queue-scorer) is not an "
       "endpoint discovery plugin (test.yaml:9:16)"},
      {v1(disc + "dataLayer:\n  discovery:\n    endpoints: {}\n"),
       "dataLayer.discovery.endpoints.pluginRef: missing required field"},
      {v1(disc + "dataLayer:\n  discovery:\n    peers: {pluginRef: x}\n"),
       "dataLayer.discovery.peers: not supported by this build (discovery of peer EPP replicas) "
       "(test.yaml:9:12)"},
      {v1(disc + "dataLayer:\n  crossReplica:\n    syncerPluginRef: redis\n    syncInterval: 1s\n"),
       "dataLayer.crossReplica: not supported by this build (cross-replica state sync between EPP replicas) "
       "(test.yaml:9:5)"},
      {v1alpha1(disc + "dataLayer:\n  crossReplicaSyncerPluginRef: redis\n"),
       "dataLayer.crossReplicaSyncerPluginRef: not supported by this build (cross-replica state sync between "
       "EPP "
       "replicas) (test.yaml:8:32)"},
      {v1alpha1(disc + "dataLayer:\n  crossReplicaPublishTimeout: 2s\n"),
       "dataLayer.crossReplicaPublishTimeout: not supported by this build"},
      {v1(disc + "dataLayer:\n  sources:\n  - pluginRef: queue-scorer\n"),
       "dataLayer.sources[0].pluginRef: plugin \"queue-scorer\" (type queue-scorer) is not a data source"},
      {v1(disc + "- {name: s1, type: metrics-data-source}\n- {name: s2, type: metrics-data-source}\n"
                 "dataLayer:\n  sources:\n  - pluginRef: s1\n  - pluginRef: s2\n"),
       "dataLayer.sources[1].pluginRef: a second metrics source: llmd scrapes each endpoint's metrics once"},
      {v1(disc + "- type: metrics-data-source\ndataLayer:\n  sources:\n  - pluginRef: metrics-data-source\n"
                 "    extractors: [{pluginRef: queue-scorer}]\n"),
       "dataLayer.sources[0].extractors[0].pluginRef: plugin \"queue-scorer\" (type queue-scorer) is not a "
       "data extractor"},
      {v1(disc + "dataLayer:\n  sources:\n  - pluginRef: gone\n"),
       "dataLayer.sources[0].pluginRef: unknown plugin \"gone\" (not in plugins)"},
      {v1(disc + "dataLayer:\n  injectDefaults: \"false\"\n"), "dataLayer.injectDefaults: expected boolean"},
      {v1(disc + "schedulingProfiles:\n- name: p\n  plugins:\n  - pluginRef: file-discovery\n"),
       "schedulingProfiles[0].plugins[0].pluginRef: plugin \"file-discovery\" (type file-discovery) is not a "
       "filter, scorer or picker"},
  };
  expect_errors(cases);
}

// ---------------------------------------------------------------------------------------------
// requestHandler

TEST(RequestHandler, ParserReferencesNameInstancesOrParserTypes) {
  // A parser type that is not configured is created, as llm-d's ensureParsers does.
  auto by_type =
      load(v1("plugins:\n- type: queue-scorer\nrequestHandler:\n  parsers:\n"
              "  - pluginRef: openai-parser\n  propagatePriority: false\n"));
  ASSERT_TRUE(by_type) << by_type.error().message;
  EXPECT_EQ(by_type->data_plane.parsers, std::vector<std::string>{"openai-parser"});
  ASSERT_NE(by_type->find_plugin("openai-parser"), nullptr);

  auto named =
      load(v1("plugins:\n- {name: oai, type: openai-parser}\n- type: queue-scorer\n"
              "requestHandler:\n  parsers: [{pluginRef: oai}]\n"));
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->data_plane.parsers, std::vector<std::string>{"oai"});
  EXPECT_EQ(named->find_plugin("openai-parser"), nullptr);

  // No parsers: the data plane's built-in OpenAI parsing.
  auto none = load(v1("plugins:\n- type: queue-scorer\n"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->data_plane.parsers.empty());
}

TEST(RequestHandler, V1alpha1TopLevelParserIsTheOlderSpelling) {
  auto plan = load(v1alpha1("plugins:\n- type: queue-scorer\nparser:\n  pluginRef: openai-parser\n"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->data_plane.parsers, std::vector<std::string>{"openai-parser"});

  // Both: requestHandler.parsers wins, as in llm-d's loader.
  auto both =
      load(v1alpha1("plugins:\n- {name: oai, type: openai-parser}\nparser:\n  pluginRef: "
                    "openai-parser\nrequestHandler:\n  parsers: [{pluginRef: oai}]\n"));
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->data_plane.parsers, std::vector<std::string>{"oai"});
}

TEST(RequestHandler, ErrorsNameTheirPath) {
  const std::pair<std::string, std::string> cases[] = {
      {v1("requestHandler:\n  parsers:\n  - pluginRef: anthropic-parser\n"),
       "requestHandler.parsers[0].pluginRef: unknown plugin \"anthropic-parser\" (not in plugins, and not a "
       "parser type built into llmd) (test.yaml:5:5)"},
      {v1("plugins:\n- type: vllmhttp-parser\nrequestHandler:\n  parsers:\n  - pluginRef: vllmhttp-parser\n"),
       "plugins[0].type: unknown plugin type \"vllmhttp-parser\""},
      {v1("plugins:\n- type: queue-scorer\nrequestHandler:\n  parsers:\n  - pluginRef: queue-scorer\n"),
       "requestHandler.parsers[0].pluginRef: plugin \"queue-scorer\" (type queue-scorer) is not a parser"},
      {v1("requestHandler:\n  parsers:\n  - {}\n"),
       "requestHandler.parsers[0].pluginRef: missing required field"},
      {v1("requestHandler:\n  propagatePriority: true\n"),
       "requestHandler.propagatePriority: not supported by this build (llmd forwards the request body "
       "unchanged)"},
      {v1("parser:\n  pluginRef: openai-parser\n"),
       "parser: not in llm-d.ai/v1; use requestHandler.parsers (test.yaml:4:3)"},
  };
  expect_errors(cases);
}

// ---------------------------------------------------------------------------------------------
// Flow control: never silently ignored.

TEST(FlowControl, SectionsAreErrorsNamingTheirPath) {
  EXPECT_EQ(error_of(v1("flowControl:\n  maxRequests: \"1k\"\n")),
            "flowControl: not supported by this build; see the flow-control work (test.yaml:4:3)");
  EXPECT_EQ(error_of(v1alpha1("saturationDetector:\n  pluginRef: utilization-detector\n")),
            "saturationDetector: not supported by this build; see the flow-control work (test.yaml:4:3)");
  // Even empty.
  EXPECT_EQ(error_of(v1("flowControl: {}\n")),
            "flowControl: not supported by this build; see the flow-control work (test.yaml:3:14)");
}

}  // namespace
}  // namespace llmd::sched

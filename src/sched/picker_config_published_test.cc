// llm-d's published EndpointPickerConfig samples (testdata/published/, sources in its README.md): each loads,
// or fails with exactly the error below, which names only what is listed as not yet built in docs/epp.md.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"
#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"

namespace llmd::sched {
namespace {

namespace fs = std::filesystem;

const fs::path kPublished = fs::path(LLMD_SCHED_TESTDATA) / "published";

std::string read(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<SchedulerPlan> load_fixture(const std::string& file) {
  static ManualClock clock;
  return load_scheduler_plan(read(kPublished / file), builtin_registry(), clock, file);
}

struct Published {
  std::string file;
  std::string error;                   // empty: the sample loads; otherwise the whole message
  std::vector<std::string> not_built;  // what the error names (plugin types, sections): each is listed in
                                       // docs/epp.md "Not yet built"
};

const std::vector<Published>& samples() {
  static const std::vector<Published> kSamples = {
      {"llm-d-no-kubernetes-config.yaml", "", {}},
      {"llm-d-blog-no-kubernetes-v1alpha1.yaml", "", {}},
      {"llm-d-router-sim-epp-config.yaml", "", {}},
      {"llm-d-router-chart-default-plugins.yaml", "", {}},
      {"llm-d-optimized-baseline.yaml", "", {}},
      {"llm-d-optimized-baseline-npu.yaml", "", {}},
      {"is-session-affinity-config.yaml", "", {}},
      {"gie-config-text-prefix-cache-scorer.yaml", "", {}},
      {"gie-inferencepool-default-plugins.yaml", "", {}},
      {"llm-d-router-epp-config.yaml",
       "plugins[4].type: unknown plugin type \"models-responder\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-epp-config.yaml:10:9)",
       {"models-responder"}},
      {"llm-d-router-pd-epp-config.yaml",
       "plugins[6].type: unknown plugin type \"disagg-profile-handler\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-pd-epp-config.yaml:14:9); "
       "plugins[7].type: unknown plugin type \"prefix-based-pd-decider\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-pd-epp-config.yaml:18:9)",
       {"disagg-profile-handler", "prefix-based-pd-decider"}},
      {"llm-d-router-sim-epp-no-hit-lru.yaml",
       "plugins[0].type: unknown plugin type \"precise-prefix-cache-producer\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-sim-epp-no-hit-lru.yaml:5:9)",
       {"precise-prefix-cache-producer"}},
      {"llm-d-router-passthrough-epp-config.yaml",
       "plugins[0].type: unknown plugin type \"passthrough-parser\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-passthrough-epp-config.yaml:6:9)",
       {"passthrough-parser"}},
      {"llm-d-router-chart-payload-agnostic.yaml",
       "plugins[0].type: unknown plugin type \"passthrough-parser\" (not built into llmd; see "
       "docs/configuration.md) (llm-d-router-chart-payload-agnostic.yaml:6:9)",
       {"passthrough-parser"}},
      {"is-sim-pd-epp-config.yaml",
       "plugins[0].type: unknown plugin type \"disagg-headers-handler\" (not built into llmd; see "
       "docs/configuration.md) (is-sim-pd-epp-config.yaml:6:9); "
       "plugins[6].type: unknown plugin type \"prefix-based-pd-decider\" (not built into llmd; see "
       "docs/configuration.md) (is-sim-pd-epp-config.yaml:17:9); "
       "plugins[7].type: unknown plugin type \"disagg-profile-handler\" (not built into llmd; see "
       "docs/configuration.md) (is-sim-pd-epp-config.yaml:20:9)",
       {"disagg-headers-handler", "prefix-based-pd-decider", "disagg-profile-handler"}},
      {"is-dp-epp-config.yaml",
       "plugins[3].type: unknown plugin type \"data-parallel-profile-handler\" (not built into llmd; see "
       "docs/configuration.md) (is-dp-epp-config.yaml:8:9)",
       {"data-parallel-profile-handler"}},
      {"is-epp-config.yaml",
       "plugins[0].type: unknown plugin type \"precise-prefix-cache-scorer\" (not built into llmd; see "
       "docs/configuration.md) (is-epp-config.yaml:5:9)",
       {"precise-prefix-cache-scorer"}},
      // The section fails while decoding, before the flow-control plugin types (listed as not built too)
      // are looked up.
      {"llm-d-flow-control.yaml",
       "flowControl: not supported by this build; see the flow-control work (llm-d-flow-control.yaml:30:3)",
       {"flowControl"}},
  };
  return kSamples;
}

TEST(PublishedSamples, EachLoadsOrFailsExactly) {
  for (const auto& s : samples()) {
    auto plan = load_fixture(s.file);
    if (s.error.empty()) {
      EXPECT_TRUE(plan) << s.file << ": " << plan.error().message;
      continue;
    }
    ASSERT_FALSE(plan) << s.file;
    EXPECT_EQ(plan.error().code, ErrorCode::kConfig) << s.file;
    EXPECT_EQ(plan.error().message, s.error) << s.file;
    for (const auto& name : s.not_built) {
      EXPECT_NE(s.error.find(name), std::string::npos) << s.file << " does not name " << name;
    }
  }
}

// The "Not yet built" section of docs/epp.md: from its heading to the next heading.
std::string not_yet_built_section() {
  const std::string doc = read(fs::path(LLMD_DOCS_DIR) / "epp.md");
  const size_t start = doc.find("\n## Not yet built");
  EXPECT_NE(start, std::string::npos) << "docs/epp.md has no \"Not yet built\" section";
  if (start == std::string::npos) return "";
  const size_t end = doc.find("\n## ", start + 1);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(PublishedSamples, WhatTheyNeedIsListedAsNotYetBuilt) {
  const std::string section = not_yet_built_section();
  for (const auto& s : samples()) {
    for (const auto& name : s.not_built) {
      EXPECT_NE(section.find("`" + name + "`"), std::string::npos)
          << s.file << " needs " << name << ", which docs/epp.md does not list under \"Not yet built\"";
    }
  }
}

// Every sample in the directory is tested and has its source recorded.
TEST(PublishedSamples, EveryFileIsTestedAndItsSourceRecorded) {
  std::set<std::string> listed;
  for (const auto& s : samples()) listed.insert(s.file);
  std::set<std::string> present;
  for (const auto& e : fs::directory_iterator(kPublished)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") present.insert(e.path().filename().string());
  }
  EXPECT_EQ(present, listed);
  EXPECT_GE(present.size(), 10u);
  const std::string readme = read(kPublished / "README.md");
  for (const auto& f : present) EXPECT_NE(readme.find("`" + f + "`"), std::string::npos) << f;
  for (const auto& e : fs::directory_iterator(kPublished / "endpoints")) {
    const std::string f = "endpoints/" + e.path().filename().string();
    EXPECT_NE(readme.find("`" + f + "`"), std::string::npos) << f;
  }
}

// What the samples that load turn into.
TEST(PublishedSamples, NoKubernetesGuideUsesItsEndpointsFileAndMetricsSource) {
  auto plan = load_fixture("llm-d-no-kubernetes-config.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->data_plane.discovery.has_value());
  EXPECT_EQ(plan->data_plane.discovery->path, "/etc/epp/endpoints.yaml");
  EXPECT_TRUE(plan->data_plane.discovery->watch);
  EXPECT_TRUE(plan->data_plane.scrape_metrics);
  ASSERT_EQ(plan->profiles.size(), 1u);
  EXPECT_EQ(plan->profiles[0].scorers.size(), 4u);

  auto blog = load_fixture("llm-d-blog-no-kubernetes-v1alpha1.yaml");
  ASSERT_TRUE(blog) << blog.error().message;
  ASSERT_TRUE(blog->data_plane.discovery.has_value());
  EXPECT_EQ(blog->data_plane.discovery->path, "/etc/epp/endpoints.yaml");
}

TEST(PublishedSamples, ScorerParametersReachTheProducer) {
  auto gie = load_fixture("gie-config-text-prefix-cache-scorer.yaml");
  ASSERT_TRUE(gie) << gie.error().message;
  const auto* p =
      dynamic_cast<const plugins::ApproxPrefixCacheProducer*>(gie->find_plugin(kDefaultPrefixProducer));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->parameter_value("maxPrefixBlocksToMatch"), "256");
  EXPECT_EQ(p->parameter_value("lruCapacityPerServer"), "31250");
  EXPECT_EQ(p->parameter_value("blockSizeTokens"), "2");  // hashBlockSize 5 characters

  auto chart = load_fixture("llm-d-router-chart-default-plugins.yaml");
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_EQ(chart->data_plane.scrape.path, "/metrics");
  EXPECT_FALSE(chart->data_plane.discovery.has_value());
}

}  // namespace
}  // namespace llmd::sched

#include "sched/registry.h"

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "sched/builtin_plugins.h"
#include "sched/data_plane.h"

namespace llmd::sched {
namespace {

enum Iface { kFilter, kScorer, kPicker, kHandler, kProducer, kDiscovery, kSource, kExtractor, kParser };

TEST(RegistryTest, BuiltinsHaveLlmdTypeNamesAndInterfaces) {
  const std::pair<const char*, Iface> types[] = {
      {"decode-filter", kFilter},
      {"prefill-filter", kFilter},
      {"label-selector-filter", kFilter},
      {"by-label-selector", kFilter},
      {"by-label", kFilter},
      {"utilization-filter", kFilter},
      {"prefix-cache-affinity-filter", kFilter},
      {"queue-scorer", kScorer},
      {"kv-cache-utilization-scorer", kScorer},
      {"kv-cache-scorer", kScorer},
      {"running-requests-size-scorer", kScorer},
      {"load-aware-scorer", kScorer},
      {"active-request-scorer", kScorer},
      {"token-load-scorer", kScorer},
      {"prefix-cache-scorer", kScorer},
      {"no-hit-lru-scorer", kScorer},
      {"session-affinity-scorer", kScorer},
      {"lora-affinity-scorer", kScorer},
      {"max-score-picker", kPicker},
      {"random-picker", kPicker},
      {"weighted-random-picker", kPicker},
      {"round-robin", kPicker},
      {"single-profile-handler", kHandler},
      {"token-producer", kProducer},
      {"tokenizer", kProducer},
      {"approx-prefix-cache-producer", kProducer},
      {"inflight-load-producer", kProducer},
      {"file-discovery", kDiscovery},
      {"metrics-data-source", kSource},
      {"core-metrics-extractor", kExtractor},
      {"openai-parser", kParser},
  };
  const PluginRegistry& r = builtin_registry();
  EXPECT_EQ(r.names().size(), std::size(types));
  for (const auto& [type, iface] : types) {
    auto found = r.find(type);
    ASSERT_NE(found.entry, nullptr) << type;
    // by-label and utilization-filter have required parameters.
    const std::string t = found.entry->type;
    config::Node node;
    if (t == "by-label") node = *config::parse("{label: x, validValues: [a]}");
    if (t == "utilization-filter")
      node = *config::parse("{conditions: [{metric: waiting-queue, maxValue: 1}]}");
    if (t == "file-discovery") node = *config::parse("{path: endpoints.yaml}");
    auto p = found.entry->factory(PluginArgs{{t, type}, node});
    ASSERT_TRUE(p) << type << ": " << p.error().message;
    EXPECT_EQ((*p)->typed_name().type, t);
    EXPECT_EQ((*p)->typed_name().name, type);
    const Plugin* pp = p->get();
    switch (iface) {
      case kFilter:
        EXPECT_NE(dynamic_cast<const Filter*>(pp), nullptr) << type;
        break;
      case kScorer:
        EXPECT_NE(dynamic_cast<const Scorer*>(pp), nullptr) << type;
        break;
      case kPicker:
        EXPECT_NE(dynamic_cast<const Picker*>(pp), nullptr) << type;
        break;
      case kHandler:
        EXPECT_NE(dynamic_cast<const ProfileHandler*>(pp), nullptr) << type;
        break;
      case kProducer:
        EXPECT_NE(dynamic_cast<const DataProducer*>(pp), nullptr) << type;
        break;
      case kDiscovery:
        EXPECT_NE(dynamic_cast<const EndpointDiscovery*>(pp), nullptr) << type;
        break;
      case kSource:
        EXPECT_NE(dynamic_cast<const DataSource*>(pp), nullptr) << type;
        break;
      case kExtractor:
        EXPECT_NE(dynamic_cast<const DataExtractor*>(pp), nullptr) << type;
        break;
      case kParser:
        EXPECT_NE(dynamic_cast<const RequestParser*>(pp), nullptr) << type;
        break;
    }
  }
}

TEST(RegistryTest, AliasesAreDeprecatedNamesOfCanonicalTypes) {
  const PluginRegistry& r = builtin_registry();
  const std::pair<const char*, const char*> aliases[] = {{"by-label-selector", "label-selector-filter"},
                                                         {"kv-cache-scorer", "kv-cache-utilization-scorer"},
                                                         {"tokenizer", "token-producer"}};
  for (const auto& [alias, canonical] : aliases) {
    auto f = r.find(alias);
    ASSERT_NE(f.entry, nullptr);
    EXPECT_TRUE(f.deprecated_alias);
    EXPECT_EQ(f.entry->type, canonical);
    EXPECT_FALSE(r.find(canonical).deprecated_alias);
  }
  EXPECT_EQ(r.find("precise-prefix-cache-scorer").entry, nullptr);
}

TEST(RegistryTest, RejectsDuplicatesAndDanglingAliases) {
  PluginRegistry r;
  ASSERT_TRUE(register_builtin_plugins(r));
  auto again = register_builtin_plugins(r);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(r.add_alias("x", "no-such-type"));
  EXPECT_FALSE(r.add_alias("queue-scorer", "kv-cache-utilization-scorer"));
  EXPECT_FALSE(r.add("kv-cache-scorer", r.find("queue-scorer").entry->factory));
}

// Adding a plugin is one directory plus one line in register_builtin_plugins(): CMake builds whatever
// the directories hold, and this checks the two against each other.
TEST(RegistryTest, EveryPluginDirectoryIsRegisteredAndComplete) {
  namespace fs = std::filesystem;
  std::set<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(LLMD_SCHED_PLUGINS_DIR)) {
    if (!entry.is_directory()) continue;
    const std::string type = entry.path().filename().string();
    dirs.insert(type);
    bool header = false, source = false, test = false;
    for (const auto& f : fs::directory_iterator(entry.path())) {
      const std::string name = f.path().filename().string();
      header = header || name.ends_with(".h");
      test = test || name.ends_with("_test.cc");
      source = source || (name.ends_with(".cc") && !name.ends_with("_test.cc"));
    }
    EXPECT_TRUE(header && source && test) << type << ": a plugin directory holds its .h, .cc and _test.cc";
    EXPECT_TRUE(fs::exists(entry.path() / "README.md")) << type << ": README.md missing";
    const auto found = builtin_registry().find(type);
    ASSERT_NE(found.entry, nullptr) << type << ": directory without a registered type of the same name";
    EXPECT_FALSE(found.deprecated_alias) << type;
  }
  std::set<std::string> canonical;
  for (const auto& name : builtin_registry().names()) {
    const auto found = builtin_registry().find(name);
    if (!found.deprecated_alias) canonical.insert(name);
  }
  EXPECT_EQ(canonical, dirs);
}

}  // namespace
}  // namespace llmd::sched

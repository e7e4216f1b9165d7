#include "config/config.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace llmd::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// An EndpointPickerConfig-shaped example: nested structs, vectors of structs, enums, durations,
// raw pass-through parameters.
enum class Mode { kFcfs, kPriority };
constexpr EnumName<Mode> kModeNames[] = {{"fcfs", Mode::kFcfs}, {"priority", Mode::kPriority}};

struct ProfilePlugin {
  std::string plugin_ref;
  double weight = 1.0;
};
void decode(MapReader& m, ProfilePlugin& p) {
  m.require("pluginRef", p.plugin_ref);
  m.read("weight", p.weight);
}

struct Profile {
  std::string name;
  std::vector<ProfilePlugin> plugins;
};
void decode(MapReader& m, Profile& p) {
  m.require("name", p.name);
  m.read("plugins", p.plugins);
}

struct PluginSpec {
  std::string name;
  std::string type;
  Node parameters;
};
void decode(MapReader& m, PluginSpec& p) {
  m.require("type", p.type);
  if (!m.read("name", p.name)) p.name = p.type;
  m.read("parameters", p.parameters);
}

struct DataLayer {
  bool inject_defaults = true;
  milliseconds sync_interval{1000};
};
void decode(MapReader& m, DataLayer& d) {
  m.read("injectDefaults", d.inject_defaults);
  m.read("crossReplicaSyncInterval", d.sync_interval);
}

struct EppConfig {
  std::string api_version = "llm-d.ai/v1alpha1";
  std::string kind = "EndpointPickerConfig";
  std::vector<std::string> feature_gates;
  std::vector<PluginSpec> plugins;
  std::vector<Profile> profiles;
  DataLayer data_layer;
  Mode mode = Mode::kFcfs;
  uint16_t port = 9002;
  std::optional<int32_t> max_queue;
  std::map<std::string, int> limits;
};
void decode(MapReader& m, EppConfig& c) {
  m.read("apiVersion", c.api_version);
  m.read("kind", c.kind);
  m.read("featureGates", c.feature_gates);
  m.read("plugins", c.plugins);
  m.read("schedulingProfiles", c.profiles);
  m.read("dataLayer", c.data_layer);
  m.read("mode", c.mode, kModeNames);
  m.read("port", c.port);
  m.read("maxQueue", c.max_queue);
  m.read("limits", c.limits);
}

struct PrefixParams {
  int32_t block_size = 64;
  int32_t max_prefix_blocks = 256;
};
void decode(MapReader& m, PrefixParams& p) {
  m.read("blockSize", p.block_size);
  m.read("maxPrefixBlocksToMatch", p.max_prefix_blocks);
  if (p.block_size <= 0) m.error("blockSize", "must be positive");
}

std::string error_of(std::string_view text) {
  auto r = load_text<EppConfig>(text, "epp.yaml");
  EXPECT_TRUE(r.has_error()) << "decoded without error: " << text;
  if (!r.has_error()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  return r.error().message;
}

// A single scalar decoded under key `v`.
template <class T>
Result<T> scalar(std::string_view yaml_value, T initial = T{}) {
  struct Box {
    T v;
  };
  auto node = parse(std::string("v: ") + std::string(yaml_value), "t.yaml");
  if (!node) return node.error();
  Decoder d;
  MapReader m(d, *node);
  T out = initial;
  m.read("v", out);
  m.finish();
  if (auto r = d.result(); !r) return r.error();
  return out;
}

template <class T>
std::string scalar_error(std::string_view yaml_value) {
  auto r = scalar<T>(yaml_value);
  EXPECT_TRUE(r.has_error()) << yaml_value;
  return r.has_error() ? r.error().message : "";
}

constexpr std::string_view kFullConfig = R"(apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
featureGates: ["flowControl", "x=false"]
plugins:
- type: queue-scorer
- name: prefix
  type: prefix-cache-scorer
  parameters:
    blockSize: 16
    maxPrefixBlocksToMatch: 128
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: prefix
    weight: 3.5
dataLayer:
  crossReplicaSyncInterval: 250ms
mode: priority
port: 8080
maxQueue: 100
limits: {a: 1, b.c: 2}
)";

TEST(ConfigDecode, FullStructEndToEnd) {
  auto r = load_text<EppConfig>(kFullConfig, "epp.yaml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const EppConfig& c = *r;
  EXPECT_EQ(c.api_version, "inference.networking.x-k8s.io/v1alpha1");
  EXPECT_EQ(c.feature_gates, (std::vector<std::string>{"flowControl", "x=false"}));
  ASSERT_EQ(c.plugins.size(), 2u);
  EXPECT_EQ(c.plugins[0].name, "queue-scorer");  // name defaults to type
  EXPECT_EQ(c.plugins[0].type, "queue-scorer");
  EXPECT_FALSE(c.plugins[0].parameters.present());
  EXPECT_EQ(c.plugins[1].name, "prefix");
  ASSERT_EQ(c.profiles.size(), 1u);
  ASSERT_EQ(c.profiles[0].plugins.size(), 2u);
  EXPECT_EQ(c.profiles[0].plugins[0].plugin_ref, "queue-scorer");
  EXPECT_EQ(c.profiles[0].plugins[0].weight, 2.0);
  EXPECT_EQ(c.profiles[0].plugins[1].weight, 3.5);
  EXPECT_TRUE(c.data_layer.inject_defaults);
  EXPECT_EQ(c.data_layer.sync_interval, milliseconds(250));
  EXPECT_EQ(c.mode, Mode::kPriority);
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.max_queue, 100);
  EXPECT_EQ(c.limits, (std::map<std::string, int>{{"a", 1}, {"b.c", 2}}));

  // Plugin parameters decode later, with their full path.
  auto params = decode<PrefixParams>(c.plugins[1].parameters);
  ASSERT_TRUE(params.has_value()) << params.error().message;
  EXPECT_EQ(params->block_size, 16);
  EXPECT_EQ(params->max_prefix_blocks, 128);
}

TEST(ConfigDecode, EmptyDocumentIsTheDefaults) {
  for (std::string_view text : {"", "# only a comment\n", "~", "{}"}) {
    auto r = load_text<EppConfig>(text);
    ASSERT_TRUE(r.has_value()) << text << ": " << r.error().message;
    EXPECT_EQ(r->api_version, "llm-d.ai/v1alpha1");
    EXPECT_EQ(r->port, 9002);
    EXPECT_EQ(r->data_layer.sync_interval, milliseconds(1000));
    EXPECT_EQ(r->mode, Mode::kFcfs);
    EXPECT_FALSE(r->max_queue.has_value());
    EXPECT_TRUE(r->plugins.empty());
  }
}

TEST(ConfigDecode, NullKeepsDefault) {
  auto r = load_text<EppConfig>("port: ~\ndataLayer:\nmode: null\n");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->port, 9002);
  EXPECT_EQ(r->mode, Mode::kFcfs);
  EXPECT_TRUE(r->data_layer.inject_defaults);
}

TEST(ConfigDecode, JsonInputThroughTheSamePath) {
  auto r = load_text<EppConfig>(R"({
    "plugins": [{"type": "queue-scorer"}, {"type": "prefix-cache-scorer", "parameters": {"blockSize": 32}}],
    "schedulingProfiles": [{"name": "default", "plugins": [{"pluginRef": "queue-scorer", "weight": 2}]}],
    "dataLayer": {"crossReplicaSyncInterval": "2s", "injectDefaults": false},
    "port": 81
  })",
                                "epp.json");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->plugins.size(), 2u);
  EXPECT_EQ(r->profiles[0].plugins[0].weight, 2.0);
  EXPECT_EQ(r->data_layer.sync_interval, milliseconds(2000));
  EXPECT_FALSE(r->data_layer.inject_defaults);
  EXPECT_EQ(r->port, 81);
  auto params = decode<PrefixParams>(r->plugins[1].parameters);
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(params->block_size, 32);
}

TEST(ConfigDecode, JsonErrorsNameThePathAndPosition) {
  EXPECT_EQ(error_of(R"({"plugins": [{"type": "a"}, {"type": 7}]})"),
            "plugins[1].type: expected string, got integer (epp.yaml:1:38)");
  // Quoted numbers are strings, as in JSON.
  EXPECT_EQ(error_of(R"({"port": "80"})"), "port: expected integer, got string \"80\" (epp.yaml:1:10)");
}

TEST(ConfigErrors, UnknownKeyNamesExactPath) {
  EXPECT_EQ(error_of("apiVersion: v1\nkinds: X\n"), "kinds: unknown field (epp.yaml:2:1)");
  EXPECT_EQ(error_of("schedulingProfiles:\n- name: a\n  plugins:\n  - pluginRef: x\n    wieght: 2\n"),
            "schedulingProfiles[0].plugins[0].wieght: unknown field (epp.yaml:5:5)");
  EXPECT_EQ(error_of("dataLayer:\n  discovery: {}\n"), "dataLayer.discovery: unknown field (epp.yaml:2:3)");
}

TEST(ConfigErrors, WrongTypeNamesExactPath) {
  EXPECT_EQ(error_of("schedulingProfiles:\n- name: a\n  plugins:\n  - pluginRef: x\n    weight: heavy\n"),
            "schedulingProfiles[0].plugins[0].weight: expected number, got string \"heavy\" (epp.yaml:5:13)");
  EXPECT_EQ(error_of("plugins: {type: x}\n"), "plugins: expected sequence, got mapping (epp.yaml:1:10)");
  EXPECT_EQ(error_of("dataLayer: [1]\n"), "dataLayer: expected mapping, got sequence (epp.yaml:1:12)");
  EXPECT_EQ(error_of("featureGates: [a, 1]\n"),
            "featureGates[1]: expected string, got integer (epp.yaml:1:19)");
  EXPECT_EQ(error_of("- a\n"), "(root): expected mapping, got sequence (epp.yaml:1:1)");
}

TEST(ConfigErrors, RequiredFields) {
  EXPECT_EQ(error_of("plugins:\n- name: x\n"), "plugins[0].type: missing required field (epp.yaml:2:3)");
  EXPECT_EQ(error_of("plugins:\n- type: ~\n"), "plugins[0].type: required field is null (epp.yaml:2:9)");
  // A null element decodes from an empty mapping, so its required fields are missing.
  EXPECT_EQ(error_of("plugins: [null]\n"), "plugins[0].type: missing required field (epp.yaml:1:11)");
}

TEST(ConfigErrors, AllErrorsAreReportedInDecodeOrder) {
  // decode() reads mode before port; unknown fields come when the mapping finishes.
  EXPECT_EQ(error_of("port: x\nmode: fifo\nextra: 1\n"),
            "mode: unknown value \"fifo\"; expected one of: fcfs, priority (epp.yaml:2:7); "
            "port: expected integer, got string \"x\" (epp.yaml:1:7); "
            "extra: unknown field (epp.yaml:3:1)");
}

TEST(ConfigErrors, ErrorCountIsBounded) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "k" + std::to_string(i) + ": 1\n";
  const std::string msg = error_of(text);
  EXPECT_NE(msg.find("k19: unknown field"), std::string::npos);
  EXPECT_EQ(msg.find("k20: unknown field"), std::string::npos);
  EXPECT_NE(msg.find("; and 10 more errors"), std::string::npos) << msg;
}

TEST(ConfigErrors, DuplicateKeys) {
  EXPECT_EQ(error_of("port: 1\nport: 2\n"), "port: duplicate key (epp.yaml:2:1)");
  EXPECT_EQ(error_of(R"({"kind": "a", "kind": "b"})"), "kind: duplicate key (epp.yaml:1:15)");
}

TEST(ConfigErrors, CustomValidationNamesPath) {
  auto node = parse("plugins:\n- type: p\n  parameters: {blockSize: 0}\n", "epp.yaml");
  ASSERT_TRUE(node.has_value());
  auto cfg = decode<EppConfig>(*node);
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  auto params = decode<PrefixParams>(cfg->plugins[0].parameters);
  ASSERT_TRUE(params.has_error());
  EXPECT_EQ(params.error().message, "plugins[0].parameters.blockSize: must be positive (epp.yaml:3:27)");
}

TEST(ConfigErrors, DeferredDecodeReportsUnknownFieldsWithFullPath) {
  auto cfg = load_text<EppConfig>("plugins:\n- type: p\n  parameters:\n    blockSize: 8\n    bogus: 2\n",
                                  "epp.yaml");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;  // parameters are not checked by the outer decode
  auto params = decode<PrefixParams>(cfg->plugins[0].parameters);
  ASSERT_TRUE(params.has_error());
  EXPECT_EQ(params.error().message, "plugins[0].parameters.bogus: unknown field (epp.yaml:5:5)");
}

TEST(ConfigErrors, MissingSectionRequireNamesNestedPath) {
  auto node = parse("other: 1\n", "o.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  {
    MapReader m(d, *node);
    int other = 0;
    m.read("other", other);
    MapReader inner = m.map("inner");
    EXPECT_FALSE(inner.present());
    int x = 0;
    inner.require("x", x);
  }
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.result().error().message, "inner.x: missing required field (o.yaml:1:1)");
}

TEST(ConfigSyntax, YamlSyntaxErrorsHaveLineAndColumn) {
  auto r = parse("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  EXPECT_EQ(r.error().message.rfind("bad.yaml:", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("end of sequence flow not found"), std::string::npos) << r.error().message;

  auto r2 = parse("a: 1\n  b: 2\n", "bad.yaml");
  ASSERT_TRUE(r2.has_error());
  EXPECT_EQ(r2.error().message, "bad.yaml:2:4: illegal map value");

  auto r3 = parse("{\"a\": 1,\n \"b\" 2}", "bad.json");
  ASSERT_TRUE(r3.has_error());
  EXPECT_EQ(r3.error().message.rfind("bad.json:2:", 0), 0u) << r3.error().message;
}

TEST(ConfigSyntax, MultipleDocumentsRejected) {
  auto r = parse("a: 1\n---\nb: 2\n", "m.yaml");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message, "m.yaml: expected one YAML document, found more");
}

TEST(ConfigSyntax, SizeLimit) {
  auto r = parse("a: 12345", "s.yaml", 4);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message, "s.yaml: 8 bytes exceeds the limit of 4 bytes");
}

TEST(ConfigFile, LoadsFileAndReportsMissing) {
  const auto path =
      std::filesystem::temp_directory_path() / ("llmd_config_test_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream f(path);
    f << "port: 1234\nmode: fcfs\n";
  }
  auto r = load<EppConfig>(path.string());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->port, 1234);
  {
    std::ofstream f(path);
    f << "port: 70000\n";
  }
  auto bad = load<EppConfig>(path.string());
  ASSERT_TRUE(bad.has_error());
  EXPECT_EQ(bad.error().message, "port: 70000 is out of range [0, 65535] (" + path.string() + ":1:7)");
  auto big = load_file(path.string(), 4);
  ASSERT_TRUE(big.has_error());
  EXPECT_NE(big.error().message.find("exceeds the limit of 4 bytes"), std::string::npos);
  std::filesystem::remove(path);

  auto missing = load_file(path.string());
  ASSERT_TRUE(missing.has_error());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_EQ(missing.error().message.rfind(path.string() + ": cannot open", 0), 0u);
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions

TEST(ConfigScalars, Bool) {
  for (auto [text, want] : {std::pair{"true", true},
                            {"True", true},
                            {"TRUE", true},
                            {"false", false},
                            {"False", false},
                            {"FALSE", false}}) {
    auto r = scalar<bool>(text, !want);
    ASSERT_TRUE(r.has_value()) << text;
    EXPECT_EQ(*r, want) << text;
  }
  // YAML 1.1 spellings are strings under 1.2.
  EXPECT_EQ(scalar_error<bool>("yes"), "v: expected boolean, got string \"yes\" (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<bool>("1"), "v: expected boolean, got integer (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<bool>("\"true\""), "v: expected boolean, got string \"true\" (t.yaml:1:4)");
}

TEST(ConfigScalars, Integers) {
  EXPECT_EQ(*scalar<int>("42"), 42);
  EXPECT_EQ(*scalar<int>("-42"), -42);
  EXPECT_EQ(*scalar<int>("+7"), 7);
  EXPECT_EQ(*scalar<int>("0x1F"), 31);
  EXPECT_EQ(*scalar<int>("0o17"), 15);
  EXPECT_EQ(*scalar<int64_t>("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(*scalar<int64_t>("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(*scalar<uint64_t>("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*scalar<uint8_t>("255"), 255);
  EXPECT_EQ(*scalar<int8_t>("-128"), -128);
  EXPECT_EQ(scalar_error<int>("4.0"), "v: expected integer, got number (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int>("\"4\""), "v: expected integer, got string \"4\" (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int>("[4]"), "v: expected integer, got sequence (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int>("1_000"), "v: expected integer, got string \"1_000\" (t.yaml:1:4)");
}

TEST(ConfigScalars, IntegerRangeChecks) {
  EXPECT_EQ(scalar_error<uint16_t>("65536"), "v: 65536 is out of range [0, 65535] (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<uint16_t>("-1"), "v: -1 is out of range [0, 65535] (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int32_t>("2147483648"),
            "v: 2147483648 is out of range [-2147483648, 2147483647] (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int32_t>("-2147483649"),
            "v: -2147483649 is out of range [-2147483648, 2147483647] (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<int8_t>("0x80"), "v: 0x80 is out of range [-128, 127] (t.yaml:1:4)");
  EXPECT_EQ(
      scalar_error<int64_t>("9223372036854775808"),
      "v: 9223372036854775808 is out of range [-9223372036854775808, 9223372036854775807] (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<uint64_t>("18446744073709551616"),
            "v: 18446744073709551616 is out of range [0, 18446744073709551615] (t.yaml:1:4)");
  EXPECT_EQ(*scalar<uint16_t>("-0"), 0);
}

TEST(ConfigScalars, Doubles) {
  EXPECT_EQ(*scalar<double>("2.5"), 2.5);
  EXPECT_EQ(*scalar<double>("3"), 3.0);  // integers are numbers
  EXPECT_EQ(*scalar<double>("-1e3"), -1000.0);
  EXPECT_EQ(*scalar<double>("+.5"), 0.5);
  EXPECT_EQ(*scalar<double>("1."), 1.0);
  EXPECT_EQ(*scalar<double>("0x10"), 16.0);
  EXPECT_EQ(*scalar<float>("0.25"), 0.25f);
  EXPECT_EQ(scalar_error<double>(".inf"), "v: expected a finite number, got .inf (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<double>(".nan"), "v: expected a finite number, got .nan (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<double>("1e999"), "v: expected a finite number, got 1e999 (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<double>("\"2.5\""), "v: expected number, got string \"2.5\" (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<double>("true"), "v: expected number, got boolean (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<float>("1e39"), "v: number out of range for float (t.yaml:1:4)");
}

TEST(ConfigScalars, Strings) {
  EXPECT_EQ(*scalar<std::string>("hello world"), "hello world");
  EXPECT_EQ(*scalar<std::string>("'single'"), "single");
  EXPECT_EQ(*scalar<std::string>("\"42\""), "42");
  EXPECT_EQ(*scalar<std::string>("!!str 42"), "42");
  EXPECT_EQ(*scalar<std::string>("|\n  block\n"), "block\n");
  EXPECT_EQ(*scalar<std::string>("\"\""), "");
  EXPECT_EQ(*scalar<std::string>("yes"), "yes");
  EXPECT_EQ(scalar_error<std::string>("42"), "v: expected string, got integer (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<std::string>("false"), "v: expected string, got boolean (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<std::string>("{a: 1}"), "v: expected string, got mapping (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<std::string>("!custom x"), "v: unsupported YAML tag \"!custom\" (t.yaml:1:4)");
  auto kept = scalar<std::string>("~", "default");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(*kept, "default");
}

TEST(ConfigScalars, Durations) {
  EXPECT_EQ(*scalar<milliseconds>("50ms"), milliseconds(50));
  EXPECT_EQ(*scalar<milliseconds>("2s"), milliseconds(2000));
  EXPECT_EQ(*scalar<milliseconds>("1m"), milliseconds(60000));
  EXPECT_EQ(*scalar<milliseconds>("1h"), milliseconds(3600000));
  EXPECT_EQ(*scalar<milliseconds>("1m30s"), milliseconds(90000));
  EXPECT_EQ(*scalar<milliseconds>("1.5s"), milliseconds(1500));
  EXPECT_EQ(*scalar<milliseconds>("\"250ms\""), milliseconds(250));
  EXPECT_EQ(*scalar<milliseconds>("0"), milliseconds(0));
  EXPECT_EQ(*scalar<nanoseconds>("1us"), nanoseconds(1000));
  EXPECT_EQ(*scalar<nanoseconds>("1\xC2\xB5s"), nanoseconds(1000));
  EXPECT_EQ(*scalar<nanoseconds>("3ns"), nanoseconds(3));
  EXPECT_EQ(*scalar<seconds>("2m"), seconds(120));
  EXPECT_EQ(*scalar<std::chrono::duration<double>>("1500ms"), std::chrono::duration<double>(1.5));
  EXPECT_EQ(*scalar<nanoseconds>("2562047h47m16.854775807s"), nanoseconds(INT64_MAX));

  EXPECT_EQ(scalar_error<milliseconds>("5"),
            "v: missing unit in duration \"5\" (units: ns, us, ms, s, m, h) (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("5d"),
            "v: unknown unit in duration \"5d\" (units: ns, us, ms, s, m, h) (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("ms"), "v: invalid duration \"ms\" (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("-1s"), "v: duration \"-1s\" must not be negative (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("1500us"),
            "v: duration is not a whole number of milliseconds (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<seconds>("1.5s"), "v: duration is not a whole number of seconds (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<nanoseconds>("2562048h"), "v: duration \"2562048h\" out of range (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("1.5"),
            "v: expected duration string such as \"50ms\", got number (t.yaml:1:4)");
  EXPECT_EQ(scalar_error<milliseconds>("true"),
            "v: expected duration string such as \"50ms\", got boolean (t.yaml:1:4)");
  using TinyMillis = std::chrono::duration<int8_t, std::milli>;
  EXPECT_EQ(scalar_error<TinyMillis>("200ms"), "v: duration out of range (t.yaml:1:4)");
}

TEST(ConfigScalars, Enums) {
  auto node = parse("a: priority\nb: lifo\nc: 1\n", "e.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  Mode a = Mode::kFcfs, b = Mode::kFcfs, c = Mode::kFcfs, missing = Mode::kPriority;
  {
    MapReader m(d, *node);
    EXPECT_TRUE(m.read("a", a, kModeNames));
    m.read("b", b, kModeNames);
    m.read("c", c, kModeNames);
    EXPECT_FALSE(m.read("d", missing, kModeNames));
    m.require("e", missing, kModeNames);
  }
  EXPECT_EQ(a, Mode::kPriority);
  EXPECT_EQ(b, Mode::kFcfs);
  EXPECT_EQ(missing, Mode::kPriority);
  EXPECT_EQ(d.result().error().message,
            "b: unknown value \"lifo\"; expected one of: fcfs, priority (e.yaml:2:4); "
            "c: expected string, got integer (e.yaml:3:4); "
            "e: missing required field (e.yaml:1:1)");
}

TEST(ConfigScalars, OptionalVectorAndMapReplaceDefaults) {
  struct S {
    std::vector<int> v{1, 2, 3};
    std::optional<std::string> o;
    std::map<std::string, double> w{{"x", 1.0}};
  };
  auto node = parse("v: [7]\no: hi\nw: {y: 2}\n", "s.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  S s;
  {
    MapReader m(d, *node);
    m.read("v", s.v);
    m.read("o", s.o);
    m.read("w", s.w);
  }
  ASSERT_TRUE(d.ok()) << d.result().error().message;
  EXPECT_EQ(s.v, std::vector<int>{7});
  EXPECT_EQ(s.o, "hi");
  EXPECT_EQ(s.w, (std::map<std::string, double>{{"y", 2.0}}));
}

// ---------------------------------------------------------------------------------------------
// Readers

TEST(ConfigReaders, PathsForNestedSequencesAndOddKeys) {
  auto node = parse("grid:\n- [1, 2]\n- [3, x]\nlabels:\n  llm-d.ai/role: 5\n  \"a b\": 1\n", "p.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  {
    MapReader m(d, *node);
    std::vector<std::vector<int>> grid;
    m.read("grid", grid);
    MapReader labels = m.map("labels");
    std::string role;
    labels.read("llm-d.ai/role", role);
    EXPECT_EQ(labels.path(), "labels");
  }
  EXPECT_EQ(d.result().error().message,
            "grid[1][1]: expected integer, got string \"x\" (p.yaml:3:7); "
            "labels[\"llm-d.ai/role\"]: expected string, got integer (p.yaml:5:18); "
            "labels[\"a b\"]: unknown field (p.yaml:6:3)");
}

TEST(ConfigReaders, SeqReaderAndRaw) {
  auto node = parse("items:\n- {a: 1}\n- {a: 2, b: 3}\npassthrough: {anything: [1, 2]}\n", "r.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  std::vector<int> as;
  {
    MapReader m(d, *node);
    EXPECT_TRUE(m.has("passthrough"));
    EXPECT_FALSE(m.has("nope"));
    SeqReader items = m.seq("items");
    ASSERT_TRUE(items.present());
    ASSERT_EQ(items.size(), 2u);
    for (std::size_t i = 0; i < items.size(); ++i) {
      MapReader item = items.map(i);
      int a = 0;
      item.require("a", a);
      as.push_back(a);
    }
    Node raw = m.raw("passthrough");
    EXPECT_EQ(raw.path(), "passthrough");
    EXPECT_EQ(raw.kind(), Kind::kMapping);
    EXPECT_FALSE(m.raw("absent").present());
  }
  EXPECT_EQ(as, (std::vector<int>{1, 2}));
  EXPECT_EQ(d.result().error().message, "items[1].b: unknown field (r.yaml:3:10)");
}

// A mapping built from some of a node's entries decodes with the original paths and positions.
TEST(ConfigReaders, OverKeepsPathSourceAndPositions) {
  auto node = parse("params:\n  keep: 1\n  bad: x\n  other: 3\n", "o.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder outer;
  Node params;
  {
    MapReader m(outer, *node);
    params = m.raw("params");
  }
  YAML::Node subset(YAML::NodeType::Map);
  subset["keep"] = params.yaml()["keep"];
  subset["bad"] = params.yaml()["bad"];
  const Node over = params.over(subset);
  EXPECT_EQ(over.path(), "params");
  EXPECT_EQ(over.source(), "o.yaml");
  struct Two {
    int keep = 0;
    int bad = 0;
  };
  Decoder d;
  Two two;
  {
    MapReader m(d, over);
    m.read("keep", two.keep);
    m.read("bad", two.bad);
  }
  EXPECT_EQ(two.keep, 1);
  EXPECT_EQ(d.result().error().message, "params.bad: expected integer, got string \"x\" (o.yaml:3:8)");
}

TEST(ConfigReaders, IgnoreUnknownAndKeys) {
  auto node = parse("a: 1\nb: 2\nc: 3\n", "k.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  {
    MapReader m(d, *node);
    EXPECT_EQ(m.keys(), (std::vector<std::string_view>{"a", "b", "c"}));
    int a = 0;
    m.read("a", a);
    m.ignore_unknown();
  }
  EXPECT_TRUE(d.ok());
}

TEST(ConfigReaders, NodeKinds) {
  auto node = parse("[~, true, 1, -0x1, 1.5, .inf, s, 'q', [], {}]", "k.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  SeqReader s(d, *node);
  const Kind want[] = {Kind::kNull,  Kind::kBool,   Kind::kInt,    Kind::kString,   Kind::kFloat,
                       Kind::kFloat, Kind::kString, Kind::kString, Kind::kSequence, Kind::kMapping};
  ASSERT_EQ(s.size(), std::size(want));
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s.at(i).kind(), want[i]) << i;
  EXPECT_EQ(kind_name(Kind::kFloat), "number");
  EXPECT_EQ(s.at(3).path(), "[3]");
}

TEST(ConfigJson, NodeToJson) {
  auto node = parse("a: 1\nb: [true, ~, 2.5, 'x', 18446744073709551615, -3]\nc: {d: \"e\"}\n", "j.yaml");
  ASSERT_TRUE(node.has_value());
  auto j = node->to_json();
  ASSERT_TRUE(j.has_value()) << j.error().message;
  EXPECT_EQ(boost::json::serialize(*j),
            R"({"a":1,"b":[true,null,2.5E0,"x",18446744073709551615,-3],"c":{"d":"e"}})");

  auto bad = parse("a: {b: [1, .nan]}\n", "j.yaml")->to_json();
  ASSERT_TRUE(bad.has_error());
  EXPECT_EQ(bad.error().message, "a.b[1]: expected a finite number, got .nan (j.yaml:1:12)");

  auto dup = parse("{x: 1, x: 2}", "j.yaml")->to_json();
  ASSERT_TRUE(dup.has_error());
  EXPECT_EQ(dup.error().message, "x: duplicate key (j.yaml:1:8)");
}

TEST(ConfigJson, JsonValueField) {
  struct P {
    boost::json::value params;
  };
  auto node = parse("params: {k: [1, two]}\n", "j.yaml");
  ASSERT_TRUE(node.has_value());
  Decoder d;
  P p;
  {
    MapReader m(d, *node);
    m.read("params", p.params);
  }
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(boost::json::serialize(p.params), R"({"k":[1,"two"]})");
}

TEST(ConfigLimits, AliasFanOutIsBounded) {
  // Each level multiplies the node count by 10 through aliases: 10^7 nodes to visit.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 7; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  auto node = parse(text, "bomb.yaml");
  ASSERT_TRUE(node.has_value()) << node.error().message;
  auto j = node->to_json();
  ASSERT_TRUE(j.has_error());
  EXPECT_NE(j.error().message.find("document too large"), std::string::npos) << j.error().message;
}

TEST(ConfigLimits, DeepNestingToJson) {
  std::string text = std::string(300, '[') + std::string(300, ']');
  auto node = parse(text, "deep.yaml");
  ASSERT_TRUE(node.has_value());
  auto j = node->to_json();
  ASSERT_TRUE(j.has_error());
  EXPECT_NE(j.error().message.find("nested deeper than 256 levels"), std::string::npos);
}

TEST(ParseDuration, FlagsSpellDurationsAsFilesDo) {
  EXPECT_EQ(*parse_duration("50ms"), std::chrono::milliseconds(50));
  EXPECT_EQ(*parse_duration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(*parse_duration("1.5h"), std::chrono::minutes(90));
  EXPECT_EQ(*parse_duration("0"), Nanos(0));
  for (const char* bad : {"", "5", "5parsecs", "-1s", "99999999999h"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kConfig);
    EXPECT_NE(r.error().message.find("duration"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace llmd::config

#include "epp/runtime.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "epp/epp_metrics.h"

namespace llmd::epp {
namespace {

RuntimeOptions parse_flags(const std::string& args) {
  RuntimeOptions o;
  CLI::App app;
  add_runtime_flags(app, o);
  app.parse(args, false);
  return o;
}

std::string create_error(const std::string& args) {
  auto r = Runtime::create(parse_flags(args), SystemClock::instance(), 1, "llmd-test");
  if (r) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  return r.error().message;
}

TEST(RuntimeFlags, DefaultsAndValues) {
  const RuntimeOptions d = parse_flags("");
  EXPECT_EQ(d.admin_port, 9090);
  EXPECT_EQ(d.refresh_metrics_interval, "50ms");
  EXPECT_TRUE(d.scrape_by_name);
  EXPECT_EQ(d.outlier.max_ejection_percent, 10u);

  const RuntimeOptions o = parse_flags(
      "--endpoint 10.0.0.1:8000 --endpoint 10.0.0.2:8000 --no-scrape-by-name --seed 7 "
      "--outlier-max-ejection-percent 50 --pool-name p");
  EXPECT_EQ(o.endpoints, (std::vector<std::string>{"10.0.0.1:8000", "10.0.0.2:8000"}));
  EXPECT_FALSE(o.scrape_by_name);
  EXPECT_EQ(o.seed, 7u);
  EXPECT_EQ(o.outlier.max_ejection_percent, 50u);
  EXPECT_EQ(o.pool_name, "p");
  EXPECT_THROW(parse_flags("--outlier-max-ejection-percent 101"), CLI::ValidationError);
}

TEST(RuntimeCreate, ConfigErrorsNameTheFlag) {
  EXPECT_EQ(create_error(""),
            "give --endpoint (repeatable) or --discovery-file, or name a file-discovery plugin in the "
            "EndpointPickerConfig's dataLayer.discovery");
  EXPECT_EQ(create_error("--endpoint 10.0.0.1:8000 --scrape-timeout soon"),
            "--scrape-timeout: \"soon\" is not a duration such as 50ms or 2s");
  EXPECT_EQ(create_error("--endpoint 10.0.0.1:8000 --discovery-poll-interval 0"),
            "--discovery-poll-interval must be > 0");
  EXPECT_EQ(create_error("--endpoint 10.0.0.1:8000 --config-file a.yaml --config-text x"),
            "give --config-file or --config-text, not both");
  EXPECT_NE(create_error("--endpoint 10.0.0.1:8000 --endpoint 10.0.0.1:8000"), "");
}

TEST(RuntimeCreate, DurationFlagsParseInOrder) {
  Nanos a{0}, b{0};
  const std::string good = "1m30s", bad = "x", also_bad = "y";
  ASSERT_TRUE(parse_duration_flags({{"--a", &good, &a}}));
  EXPECT_EQ(a, std::chrono::seconds(90));
  auto r = parse_duration_flags({{"--a", &bad, &a}, {"--b", &also_bad, &b}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--a: \"x\" is not a duration such as 50ms or 2s");
}

class RuntimeStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("llmd_runtime_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) {
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }

  std::string path_;
};

TEST_F(RuntimeStartTest, StartsAdminScrapesAndFollowsTheDiscoveryFile) {
  // Port 1 refuses connections: scrapes fail, which is all this test needs of the endpoints.
  write("endpoints:\n  - name: a\n    address: 127.0.0.1\n    port: 1\n");
  auto created = Runtime::create(parse_flags("--admin-host 127.0.0.1 --admin-port 0 --endpoint 127.0.0.2:1 "
                                             "--discovery-poll-interval 10ms --discovery-file " +
                                             path_),
                                 SystemClock::instance(), 2, "llmd-test");
  ASSERT_TRUE(created) << created.error().message;
  Runtime& rt = **created;
  EXPECT_EQ(rt.initial_endpoints(), 2u);
  EXPECT_NE(rt.metrics().expose().find("llmd_router_outlier_returns_total"), std::string::npos);

  ASSERT_TRUE(rt.start());
  EXPECT_NE(rt.admin_port(), 0);
  EXPECT_FALSE(rt.start());
  EXPECT_EQ(rt.data().status().size(), 2u);

  // The file's part is replaced; the flags' part stays.
  write("endpoints:\n  - name: b\n    address: 127.0.0.1\n    ports: [1, 2]\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rt.data().status().size() != 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(rt.data().status().size(), 3u);

  rt.stop();
  rt.stop();
  EXPECT_TRUE(rt.data().status().empty());
}

std::string published(const std::string& name) {
  std::ifstream in(std::string(LLMD_SCHED_TESTDATA) + "/published/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// llm-d's no-Kubernetes guide as published (file-discovery named by dataLayer.discovery.endpoints), its
// endpoints file moved here and pointed at a port that refuses connections.
TEST_F(RuntimeStartTest, UsesTheConfigsFileDiscoveryWhenNoFlagIsGiven) {
  const std::string endpoints = published("endpoints/llm-d-no-kubernetes-endpoints.yaml");
  ASSERT_NE(endpoints.find("port: \"8000\""), std::string::npos);
  write(replace_all(endpoints, "port: \"8000\"", "port: \"1\""));
  const std::string config = published("llm-d-no-kubernetes-config.yaml");
  ASSERT_NE(config.find("/etc/epp/endpoints.yaml"), std::string::npos);

  RuntimeOptions o = parse_flags("--admin-host 127.0.0.1 --admin-port 0 --discovery-poll-interval 10ms");
  o.config_text = replace_all(config, "/etc/epp/endpoints.yaml", path_);
  auto created = Runtime::create(o, SystemClock::instance(), 1, "llmd-test");
  ASSERT_TRUE(created) << created.error().message;
  Runtime& rt = **created;
  EXPECT_EQ(rt.initial_endpoints(), 1u);
  ASSERT_TRUE(rt.start());
  auto status = rt.data().status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].target.spec.id, "default/vllm-0-rank-0");
  EXPECT_EQ(status[0].target.spec.address, "127.0.0.1");
  EXPECT_EQ(status[0].target.spec.port, 1);
  EXPECT_EQ(status[0].target.spec.labels.at("model"), "Qwen3-32B");
  EXPECT_EQ(status[0].target.metrics_path, "/metrics");
  EXPECT_EQ(status[0].target.scrape_interval, std::chrono::milliseconds(50));  // listed metrics source

  // watchFile: true follows the file.
  write(
      "endpoints:\n- {name: vllm-0, address: 127.0.0.1, port: \"1\"}\n"
      "- {name: vllm-1, namespace: b, address: 127.0.0.1, port: \"2\"}\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rt.data().status().size() != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(rt.data().status().size(), 2u);
  rt.stop();
}

TEST(RuntimeCreate, FlagsWinOverTheConfigsFileDiscovery) {
  const std::string config =
      "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n"
      "- type: file-discovery\n  parameters: {path: /nonexistent/llmd-endpoints.yaml}\n"
      "dataLayer:\n  discovery:\n    endpoints: {pluginRef: file-discovery}\n";
  RuntimeOptions flags = parse_flags("--endpoint 10.0.0.1:8000");
  flags.config_text = config;
  auto with_flags = Runtime::create(flags, SystemClock::instance(), 1, "llmd-test");
  ASSERT_TRUE(with_flags) << with_flags.error().message;
  EXPECT_EQ((*with_flags)->initial_endpoints(), 1u);

  RuntimeOptions none = parse_flags("");
  none.config_text = config;
  auto from_config = Runtime::create(none, SystemClock::instance(), 1, "llmd-test");
  ASSERT_FALSE(from_config);
  EXPECT_EQ(from_config.error().message, "cannot read discovery file /nonexistent/llmd-endpoints.yaml");
}

// dataLayer's scrape settings become the endpoints' defaults.
TEST_F(RuntimeStartTest, DataLayerSetsWhatIsScraped) {
  const std::string head =
      "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n- type: queue-scorer\n";
  struct Case {
    std::string config;
    Nanos interval;
    std::string metrics_path;
    datalayer::EngineType engine;
  };
  const Case cases[] = {
      // injectDefaults: false and no source: not scraped.
      {head + "dataLayer:\n  injectDefaults: false\n", Nanos(0), "/metrics", datalayer::EngineType::kVllm},
      {head + "- {name: src, type: metrics-data-source, parameters: {path: /stats, interval: 200ms}}\n"
              "- {name: x, type: core-metrics-extractor, parameters: {defaultEngine: sglang}}\n"
              "dataLayer:\n  injectDefaults: false\n  sources:\n  - pluginRef: src\n    extractors: "
              "[{pluginRef: x}]\n",
       std::chrono::milliseconds(200), "/stats", datalayer::EngineType::kSglang},
      {head, std::chrono::milliseconds(50), "/metrics", datalayer::EngineType::kVllm},
  };
  for (const auto& c : cases) {
    RuntimeOptions o = parse_flags("--admin-host 127.0.0.1 --admin-port 0 --endpoint 127.0.0.2:1");
    o.config_text = c.config;
    auto created = Runtime::create(o, SystemClock::instance(), 1, "llmd-test");
    ASSERT_TRUE(created) << created.error().message;
    ASSERT_TRUE((*created)->start());
    const auto status = (*created)->data().status();
    ASSERT_EQ(status.size(), 1u);
    EXPECT_EQ(status[0].target.scrape_interval, c.interval) << c.config;
    EXPECT_EQ(status[0].target.metrics_path, c.metrics_path) << c.config;
    EXPECT_EQ(status[0].target.engine, c.engine) << c.config;
    (*created)->stop();
  }
}

}  // namespace
}  // namespace llmd::epp

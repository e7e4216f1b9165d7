#include "datalayer/discovery.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

namespace llmd::datalayer {
namespace {

const DiscoveryDefaults kDefaults{"default", std::chrono::milliseconds(50)};

TEST(ParseDiscovery, YamlWithRanksLabelsAndEngine) {
  auto r = parse_discovery(R"(
namespace: prod
interval: 100ms
endpoints:
  - name: vllm-a
    address: 10.0.0.1
    ports: [8000, 8001]
    labels: {llm-d.ai/role: decode}
  - address: 10.0.0.2
    port: 30000
    engine: sglang
    interval: 250ms
    metricsPath: /stats
)",
                           "d.yaml", kDefaults);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  const auto& a0 = (*r)[0];
  EXPECT_EQ(a0.spec.id, "prod/vllm-a-rank-0");
  EXPECT_EQ(a0.spec.address, "10.0.0.1");
  EXPECT_EQ(a0.spec.port, 8000);
  EXPECT_EQ(a0.spec.labels.at("llm-d.ai/role"), "decode");
  EXPECT_EQ(a0.spec.labels.at(std::string(kEngineTypeLabel)), "vllm");
  EXPECT_EQ(a0.engine, EngineType::kVllm);
  EXPECT_EQ(a0.scrape_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(a0.metrics_path, "/metrics");
  EXPECT_EQ((*r)[1].spec.id, "prod/vllm-a-rank-1");
  EXPECT_EQ((*r)[1].spec.port, 8001);
  const auto& b = (*r)[2];
  EXPECT_EQ(b.spec.id, "prod/10.0.0.2-30000-rank-0");
  EXPECT_EQ(b.engine, EngineType::kSglang);
  EXPECT_EQ(b.spec.labels.at(std::string(kEngineTypeLabel)), "sglang");
  EXPECT_EQ(b.scrape_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(b.metrics_path, "/stats");
}

TEST(ParseDiscovery, JsonAndEngineFromLegacyLabel) {
  auto r = parse_discovery(
      R"({"endpoints":[{"address":"127.0.0.1","port":9000,"labels":{"inference.networking.k8s.io/engine-type":"sglang"}}]})",
      "d.json", kDefaults);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].spec.id, "default/127.0.0.1-9000-rank-0");
  EXPECT_EQ((*r)[0].engine, EngineType::kSglang);
  EXPECT_EQ((*r)[0].scrape_interval, std::chrono::milliseconds(50));
}

// llm-d's file-discovery plugin reads `endpoints[]{name, namespace, address, port, labels}` with the port
// written as a string (llm-d-router pkg/epp/framework/plugins/datalayer/discovery/file README).
TEST(ParseDiscovery, LlmdFileDiscoveryFormat) {
  DiscoveryDefaults defaults = kDefaults;
  defaults.metrics_path = "/custom-metrics";
  auto r = parse_discovery(R"(
endpoints:
  - name: vllm-0
    address: "10.0.0.1"
    port: "8000"
    labels:
      model: Qwen3-32B
  - name: vllm-1
    namespace: team-a
    address: 10.0.0.2
    port: "8001"
)",
                           "endpoints.yaml", defaults);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].spec.id, "default/vllm-0-rank-0");
  EXPECT_EQ((*r)[0].spec.port, 8000);
  EXPECT_EQ((*r)[0].spec.labels.at("model"), "Qwen3-32B");
  EXPECT_EQ((*r)[0].metrics_path, "/custom-metrics");
  EXPECT_EQ((*r)[1].spec.id, "team-a/vllm-1-rank-0");
  EXPECT_EQ((*r)[1].spec.port, 8001);

  for (const char* bad : {"\"80a0\"", "\"70000\"", "\"\"", "\"-1\""}) {
    auto e = parse_discovery(std::string("endpoints:\n  - address: a\n    port: ") + bad + "\n", "d.yaml",
                             kDefaults);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("endpoints[0].port: expected a port number, got string"),
              std::string::npos)
        << e.error().message;
    EXPECT_EQ(e.error().message.find("must be between"), std::string::npos) << e.error().message;
  }
}

TEST(ParseDiscovery, EmptyDocumentIsNoEndpoints) {
  auto r = parse_discovery("", "d.yaml", kDefaults);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(ParseDiscovery, ErrorsNameThePath) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"endpoints:\n  - port: 1\n", "endpoints[0].address"},
      {"endpoints:\n  - address: \"\"\n    port: 1\n", "endpoints[0].address: must not be empty"},
      {"endpoints:\n  - address: a\n", "endpoints[0].port: exactly one of port and ports"},
      {"endpoints:\n  - address: a\n    port: 1\n    ports: [2]\n", "exactly one of port and ports"},
      {"endpoints:\n  - address: a\n    port: 70000\n", "endpoints[0].port"},
      {"endpoints:\n  - address: a\n    port: 1\n    engine: trt\n", "endpoints[0].engine"},
      {"endpoints:\n  - address: a\n    port: 1\n    colour: red\n", "endpoints[0].colour: unknown field"},
      {"endpoints:\n  - address: a\n    port: 1\n    interval: fast\n", "endpoints[0].interval"},
      {"endpoints:\n  - {name: x, address: a, port: 1}\n  - {name: x, address: b, port: 2}\n",
       "duplicate endpoint id default/x-rank-0"},
      {"endpoints:\n  - address: a\n    port: 1\n    engine: vllm\n    labels: {llm-d.ai/engine-type: "
       "sglang}\n",
       "contradicts label"},
  };
  for (const auto& c : cases) {
    auto r = parse_discovery(c.text, "d.yaml", kDefaults);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code, ErrorCode::kConfig);
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
  }
}

TEST(ParseEndpointFlag, HostPortAndItems) {
  auto r = parse_endpoint_flag("127.0.0.1:8000,llm-d.ai/role=prefill,name=pod-a,namespace=ns,interval=20ms",
                               kDefaults);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->spec.id, "ns/pod-a-rank-0");
  EXPECT_EQ(r->spec.address, "127.0.0.1");
  EXPECT_EQ(r->spec.port, 8000);
  EXPECT_EQ(r->spec.labels.at("llm-d.ai/role"), "prefill");
  EXPECT_EQ(r->scrape_interval, std::chrono::milliseconds(20));
  EXPECT_EQ(r->engine, EngineType::kVllm);

  auto v6 = parse_endpoint_flag("[::1]:9000,engine=sglang", kDefaults);
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->spec.address, "::1");
  EXPECT_EQ(v6->spec.port, 9000);
  EXPECT_EQ(v6->spec.id, "default/--1-9000-rank-0");
  EXPECT_EQ(v6->engine, EngineType::kSglang);

  auto off = parse_endpoint_flag("host:1,interval=0", kDefaults);
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->scrape_interval.count(), 0);
}

TEST(ParseEndpointFlag, Errors) {
  for (const char* bad : {"nohost", ":80", "h:0", "h:99999", "h:80x", "h:80,novalue", "h:80,engine=tgi",
                          "h:80,interval=soon", "[::1:80", "h:80,metrics-path=stats"}) {
    auto r = parse_endpoint_flag(bad, kDefaults);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kConfig);
    }
  }
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("llmd_discovery_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml"))
                .string();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    work_.reset();
    ioc_.stop();
    thread_.join();
    std::filesystem::remove(path_);
  }
  void write(const std::string& text) {
    // Write-then-rename, as config management tools do, so readers never see half a file.
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path_);
  }

  std::string path_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::thread thread_;
};

TEST_F(WatcherTest, ReloadsOnChangeAndKeepsSetOnBadFile) {
  write("endpoints:\n  - {name: a, address: 127.0.0.1, port: 1}\n");
  std::mutex mu;
  std::vector<std::vector<EndpointTarget>> seen;
  auto watcher =
      std::make_shared<DiscoveryWatcher>(ioc_.get_executor(), path_, kDefaults, std::chrono::milliseconds(10),
                                         [&](std::vector<EndpointTarget> t) {
                                           std::lock_guard lock(mu);
                                           seen.push_back(std::move(t));
                                         });
  auto initial = watcher->load_initial();
  ASSERT_TRUE(initial) << initial.error().message;
  ASSERT_EQ(initial->size(), 1u);
  watcher->start();

  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard lock(mu);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };

  write(
      "endpoints:\n  - {name: a, address: 127.0.0.1, port: 1}\n  - {name: b, address: 127.0.0.1, port: 2}\n");
  ASSERT_TRUE(wait_for([&] { return seen.size() == 1; }));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen[0].size(), 2u);
    EXPECT_EQ(seen[0][1].spec.id, "default/b-rank-0");
  }

  write("endpoints: [ {name: a, address: 127.0.0.1 ");  // broken YAML
  ASSERT_TRUE(wait_for([&] { return watcher->reload_errors() == 1; }));

  write("endpoints: []\n");
  ASSERT_TRUE(wait_for([&] { return seen.size() == 2; }));
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(seen[1].empty());
  }
  EXPECT_EQ(watcher->reloads(), 2u);
  watcher->stop();
}

}  // namespace
}  // namespace llmd::datalayer

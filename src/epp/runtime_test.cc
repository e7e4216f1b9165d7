#include "epp/runtime.h"

#include <chrono>
#include <filesystem>
#include <fstream>
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
  EXPECT_EQ(create_error(""), "give --endpoint (repeatable) or --discovery-file");
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

}  // namespace
}  // namespace llmd::epp

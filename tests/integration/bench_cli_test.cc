// Black-box tests of `llmd bench` against an in-process fake OpenAI server with known answers: the
// command line, the config file, every output file and `llmd bench report`.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http/testing/fake_upstream.h"
#include "support/process.h"

namespace llmd::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

class BenchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    dir_ = fs::temp_directory_path() / ("llmd_bench_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  http::testing::FakeUpstream server_{"fake"};
  fs::path dir_;
};

TEST_F(BenchCliTest, WritesReportJsonlCsvAndHtml) {
  const fs::path report = dir_ / "run.json", jsonl = dir_ / "req.jsonl", csv = dir_ / "req.csv";
  auto p = spawn_llmd({"bench",
                       "--url",
                       url(),
                       "--model",
                       "fake",
                       "--workload",
                       "shared_prefix",
                       "--num-groups",
                       "2",
                       "--prompts-per-group",
                       "3",
                       "--system-prompt-len",
                       "64",
                       "--question-len",
                       "8",
                       "--output-len",
                       "6",
                       "--rate",
                       "200",
                       "--num-requests",
                       "24",
                       "--warmup",
                       "200:0:4",
                       "--slo-ttft",
                       "10s",
                       "--progress",
                       "lines",
                       "--description",
                       "fake-run",
                       "-o",
                       report.string(),
                       "--requests-jsonl",
                       jsonl.string(),
                       "--requests-csv",
                       csv.string()});
  ASSERT_EQ(p.wait(std::chrono::seconds(60)), 0) << p.output();
  EXPECT_NE(p.output().find("TTFT p50"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("goodput: 24 of 24"), std::string::npos) << p.output();
  EXPECT_EQ(server_.requests(), 28u);  // 4 warm-up + 24 measured

  const json::value doc = json::parse(read_file(report));
  EXPECT_EQ(doc.at("version").as_string(), "0.2");
  EXPECT_EQ(doc.at("run").at("description").as_string(), "fake-run");
  const auto& agg = doc.at("results").at("request_performance").at("aggregate");
  EXPECT_EQ(agg.at("requests").at("total").to_number<int>(), 24);
  EXPECT_EQ(agg.at("requests").at("failures").to_number<int>(), 0);
  EXPECT_DOUBLE_EQ(agg.at("requests").at("output_length").at("mean").to_number<double>(), 6.0);
  EXPECT_TRUE(agg.at("latency").at("inter_token_latency").at("p99").is_double());
  const auto& bench = doc.at("results").at("profiling").at("llmd_bench");
  EXPECT_EQ(bench.at("tokens").at("cached").to_number<int>(),
            24 * static_cast<int>(http::testing::FakeUpstream::kCachedTokens));
  EXPECT_EQ(bench.at("stages").as_array().size(), 2u);

  // JSONL: one line per request (warm-up included), each with every inter-token gap.
  std::istringstream lines(read_file(jsonl));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const json::value row = json::parse(line);
    EXPECT_EQ(row.at("status").as_string(), "ok");
    EXPECT_EQ(row.at("itl_s").as_array().size(), 5u);
    ++n;
  }
  EXPECT_EQ(n, 28);
  const std::string csv_text = read_file(csv);
  EXPECT_EQ(std::count(csv_text.begin(), csv_text.end(), '\n'), 29);  // header + rows
  EXPECT_EQ(csv_text.rfind("id,stage,", 0), 0u);

  const fs::path html = dir_ / "cmp.html";
  auto r = spawn_llmd({"bench", "report", report.string(), report.string(), "-o", html.string()});
  ASSERT_EQ(r.wait(), 0) << r.output();
  const std::string page = read_file(html);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("fake-run"), std::string::npos);
}

TEST_F(BenchCliTest, ConfigFileWithFlagOverridesAndChat) {
  const fs::path cfg = dir_ / "bench.yaml", report = dir_ / "run.json";
  std::ofstream(cfg)
      << "targets: [" << url() << "]\n"
      << "api: {type: chat, model: fake}\n"
      << "data: {type: random, random: {input: 'uniform:20,40', output: 'fixed:3', num_prompts: 5}}\n"
      << "load: {type: concurrent, stages: [{concurrency: 2, num_requests: 10}]}\n"
      << "report: {output: " << report.string() << "}\n";
  // --output-dist overrides the file's output distribution.
  auto p = spawn_llmd({"bench", "--config", cfg.string(), "--output-dist", "fixed:4", "--progress", "off"});
  ASSERT_EQ(p.wait(std::chrono::seconds(60)), 0) << p.output();
  const json::value doc = json::parse(read_file(report));
  const auto& agg = doc.at("results").at("request_performance").at("aggregate");
  EXPECT_EQ(agg.at("requests").at("total").to_number<int>(), 10);
  EXPECT_DOUBLE_EQ(agg.at("requests").at("output_length").at("mean").to_number<double>(), 4.0);
  EXPECT_EQ(doc.at("scenario").at("load").at("native").at("config").at("api").at("type").as_string(), "chat");
  EXPECT_EQ(doc.at("scenario").at("load").at("standardized").at("concurrency").to_number<int>(), 2);
}

TEST_F(BenchCliTest, FailedRequestsAreCountedByType) {
  auto p = spawn_llmd({"bench", "--url", url(), "--model", "fake", "--header", "x-fake-status: 429", "--rate",
                       "100", "--num-requests", "5", "--progress", "off"});
  EXPECT_EQ(p.wait(std::chrono::seconds(60)), 1) << p.output();  // nothing succeeded
  EXPECT_NE(p.output().find("errors: http_429=5"), std::string::npos) << p.output();
}

TEST_F(BenchCliTest, ConfigErrorsExitTwoNamingThePath) {
  const fs::path cfg = dir_ / "bad.yaml";
  std::ofstream(cfg) << "load: {stages: [{rate: 1, duratoin: 5s}]}\n";
  auto p = spawn_llmd({"bench", "--config", cfg.string(), "--url", url(), "--model", "m"});
  EXPECT_EQ(p.wait(), 2);
  EXPECT_NE(p.output().find("load.stages[0].duratoin"), std::string::npos) << p.output();
  auto q = spawn_llmd({"bench", "--url", "https://x:1", "--model", "m"});
  EXPECT_EQ(q.wait(), 2);
  EXPECT_NE(q.output().find("only http://"), std::string::npos) << q.output();
  auto r = spawn_llmd({"bench", "--url", url()});
  EXPECT_EQ(r.wait(), 2);
  EXPECT_NE(r.output().find("api.model"), std::string::npos) << r.output();
}

}  // namespace
}  // namespace llmd::testing

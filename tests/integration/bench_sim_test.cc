// End to end: `llmd bench` against two `llmd sim` replicas (driven directly, in rotation) with the
// instant profile; checks the measured token counts against what the simulator must produce and
// that shared prefixes hit its prefix cache.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/process.h"

namespace llmd::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

TEST(BenchSimTest, SharedPrefixAgainstTwoReplicas) {
  const uint16_t port = free_port_range(2);
  auto sim = spawn_llmd({"sim", "--profile", "instant", "--replicas", "2", "--port", std::to_string(port)});
  ASSERT_TRUE(wait_for_port(port)) << sim.output();
  ASSERT_TRUE(wait_for_port(port + 1)) << sim.output();

  const fs::path dir = fs::temp_directory_path() / ("llmd_bench_sim_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path report = dir / "run.json", jsonl = dir / "req.jsonl";
  auto bench = spawn_llmd({"bench",
                           "--url",
                           "http://127.0.0.1:" + std::to_string(port),
                           "--url",
                           "http://127.0.0.1:" + std::to_string(port + 1),
                           "--model",
                           "sim-instant",
                           "--workload",
                           "shared_prefix",
                           "--num-groups",
                           "4",
                           "--prompts-per-group",
                           "8",
                           "--system-prompt-len",
                           "512",
                           "--question-len",
                           "32",
                           "--output-len",
                           "16",
                           "--load",
                           "poisson",
                           "--rate",
                           "100",
                           "--num-requests",
                           "64",
                           "--progress",
                           "off",
                           "-o",
                           report.string(),
                           "--requests-jsonl",
                           jsonl.string()});
  ASSERT_EQ(bench.wait(std::chrono::seconds(120)), 0) << bench.output() << sim.output();

  const json::value doc = json::parse(read_file(report));
  const auto& agg = doc.at("results").at("request_performance").at("aggregate");
  EXPECT_EQ(agg.at("requests").at("total").to_number<int>(), 64);
  EXPECT_EQ(agg.at("requests").at("failures").to_number<int>(), 0) << read_file(report);
  // ignore_eos: the simulator generates exactly max_tokens, and reports the prompt it tokenized.
  EXPECT_DOUBLE_EQ(agg.at("requests").at("output_length").at("mean").to_number<double>(), 16.0);
  EXPECT_DOUBLE_EQ(agg.at("requests").at("input_length").at("min").to_number<double>(), 544.0);
  EXPECT_DOUBLE_EQ(agg.at("requests").at("input_length").at("max").to_number<double>(), 544.0);
  const auto& bench_extra = doc.at("results").at("profiling").at("llmd_bench");
  // Each replica sees every group more than once, so the shared 512-token prefixes hit its cache.
  EXPECT_GT(bench_extra.at("tokens").at("cached").to_number<double>(), 0) << read_file(report);

  std::istringstream lines(read_file(jsonl));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const json::value row = json::parse(line);
    EXPECT_EQ(row.at("output_tokens").to_number<int>(), 16);
    // The simulator merges tokens that piled up into one chunk (as vLLM does); with the instant
    // profile on a busy machine all 16 may arrive in the first chunk, so a request has 0 to 15
    // gaps. The first chunk and the gaps together never exceed the request's duration.
    const auto& itl = row.at("itl_s").as_array();
    EXPECT_LE(itl.size(), 15u) << line;
    double spent = row.at("ttft_s").as_double();
    for (const auto& g : itl) spent += g.as_double();
    EXPECT_LE(spent, row.at("e2e_s").as_double() + 1e-9) << line;
    ++n;
  }
  EXPECT_EQ(n, 64);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmd::testing

// `llmd sim --tokenizer` and `llmd bench --tokenizer` with real model files: the simulator counts and
// returns the ids our tokenizer computes (itself checked id for id against Hugging Face in
// tokenizer_oracle_test), and the load generator builds prompts whose lengths the simulator sees
// exactly.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http/testing/http_call.h"
#include "support/process.h"
#include "tokenizer/oracle.h"
#include "tokenizer/tokenizer.h"

namespace llmd::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using http::testing::http_call;

// `llmd sim` with the model's tokenizer, listening on a port picked at run time. It loads and compiles
// the tokenizer (a tokenizer.json of several MB) before it listens, which on a loaded machine or under a
// sanitizer takes far longer than wait_for_port's default: allow a minute.
Listening start_sim(const std::string& tokenizer) {
  return spawn_llmd_listening(
      1,
      [&](uint16_t port) {
        return std::vector<std::string>{"sim",         "--profile", "instant", "--port", std::to_string(port),
                                        "--tokenizer", tokenizer};
      },
      std::chrono::seconds(60));
}

class TokenizerWiring : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = tok::missing_test_data();
    ASSERT_TRUE(missing.empty()) << missing;
  }
};

TEST_F(TokenizerWiring, SimTokenizesWithTheModelsTokenizer) {
  const std::string path = tok::model_file("llama3_1", "tokenizer.json");
  auto started = start_sim(path);
  ASSERT_TRUE(started.ready) << started.process.output();
  const uint16_t port = started.port;
  auto tokenizer = tokenizer::Tokenizer::load(path);
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;

  const std::string text = "Hello world! Routing by prefix, 東京で。 🙂";
  tokenizer::EncodeOptions with_special;
  with_special.add_special_tokens = true;
  auto expected = (*tokenizer)->encode(text, with_special);
  ASSERT_TRUE(expected);
  ASSERT_GT(expected->size(), 5u);

  json::object req{{"model", "sim-instant"}, {"prompt", text}};
  auto reply =
      http_call(port, "POST", "/tokenize", json::serialize(req), {{"content-type", "application/json"}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json::value doc = json::parse(reply.body);
  std::vector<uint32_t> got;
  for (const auto& v : doc.at("tokens").as_array())
    got.push_back(static_cast<uint32_t>(v.to_number<int64_t>()));
  EXPECT_EQ(got, *expected);
  EXPECT_EQ(doc.at("count").to_number<int64_t>(), static_cast<int64_t>(expected->size()));

  // A completion reports the same prompt length in its usage.
  json::object comp{{"model", "sim-instant"}, {"prompt", text}, {"max_tokens", 2}};
  auto c = http_call(port, "POST", "/v1/completions", json::serialize(comp),
                     {{"content-type", "application/json"}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(json::parse(c.body).at("usage").at("prompt_tokens").to_number<int64_t>(),
            static_cast<int64_t>(expected->size()));
}

TEST_F(TokenizerWiring, BenchPromptLengthsAreExactInTheModelsTokens) {
  const std::string path = tok::model_file("qwen3", "tokenizer.json");  // no BOS: lengths are the prompt's
  auto started = start_sim(path);
  ASSERT_TRUE(started.ready) << started.process.output();
  const uint16_t port = started.port;
  const fs::path report =
      fs::temp_directory_path() / ("llmd_tok_wiring_" + std::to_string(::getpid()) + ".json");
  auto bench = spawn_llmd({"bench",
                           "--url",
                           "http://127.0.0.1:" + std::to_string(port),
                           "--model",
                           "sim-instant",
                           "--workload",
                           "random",
                           "--input-dist",
                           "fixed:300",
                           "--output-dist",
                           "fixed:4",
                           "--num-prompts",
                           "12",
                           "--load",
                           "concurrent",
                           "--concurrency",
                           "4",
                           "--num-requests",
                           "12",
                           "--tokenizer",
                           path,
                           "--progress",
                           "off",
                           "-o",
                           report.string()});
  ASSERT_EQ(bench.wait(std::chrono::seconds(120)), 0) << bench.output() << started.process.output();
  const json::value doc = json::parse(read_file(report.string()));
  const auto& requests = doc.at("results").at("request_performance").at("aggregate").at("requests");
  EXPECT_EQ(requests.at("failures").to_number<int>(), 0);
  EXPECT_DOUBLE_EQ(requests.at("input_length").at("min").to_number<double>(), 300.0)
      << read_file(report.string());
  EXPECT_DOUBLE_EQ(requests.at("input_length").at("max").to_number<double>(), 300.0)
      << read_file(report.string());
  fs::remove(report);
}

}  // namespace
}  // namespace llmd::testing

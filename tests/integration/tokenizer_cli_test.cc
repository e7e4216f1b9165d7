// Black-box tests of `llmd tokenize` on the real tokenizer files of the npm test data.

#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/process.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/oracle.h"
#include "tokenizer/tokenizer.h"

namespace llmd::testing::tok {
namespace {

struct CliResult {
  int status;
  std::string output;
};

CliResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "tokenize");
  auto p = spawn_llmd(args);
  const int status = p.wait(std::chrono::seconds(60));
  return {status, p.output()};
}

boost::json::object last_json_line(const std::string& out) {
  std::string line = out;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  const size_t nl = line.rfind('\n');
  if (nl != std::string::npos) line = line.substr(nl + 1);
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::vector<uint32_t> ids_of(const boost::json::object& o) {
  std::vector<uint32_t> ids;
  if (auto it = o.find("ids"); it != o.end() && it->value().is_array()) {
    for (const auto& x : it->value().as_array())
      ids.push_back(static_cast<uint32_t>(x.to_number<uint64_t>()));
  }
  return ids;
}

class TokenizerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = missing_test_data();
    ASSERT_TRUE(missing.empty()) << missing;
  }
};

TEST_F(TokenizerCliTest, EncodesTextWithAndWithoutSpecialTokens) {
  const std::string path = model_file("llama3_1", "tokenizer.json");
  auto r = run_cli({"--tokenizer", path, "--text", "Hello world!", "--tokens"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto o = last_json_line(r.output);
  EXPECT_EQ(ids_of(o), (std::vector<uint32_t>{128000, 9906, 1917, 0}));
  ASSERT_TRUE(o.contains("tokens"));
  EXPECT_EQ(o.at("tokens").as_array().at(2).as_string(), "\xC4\xA0world");

  auto plain = run_cli({"--tokenizer", path, "--text", "Hello world!", "--no-special"});
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(ids_of(last_json_line(plain.output)), (std::vector<uint32_t>{9906, 1917, 0}));
}

TEST_F(TokenizerCliTest, RendersAndEncodesAChat) {
  const std::string path = model_file("qwen3", "tokenizer.json");
  const std::string messages = R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])";
  auto r = run_cli({"--tokenizer", path, "--chat", "--text", messages});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto o = last_json_line(r.output);
  ASSERT_TRUE(o.contains("prompt")) << r.output;
  const std::string prompt(o.at("prompt").as_string());
  EXPECT_EQ(
      prompt,
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  auto tok = tokenizer::Tokenizer::load(path);
  ASSERT_TRUE(tok);
  EXPECT_EQ(ids_of(o), (*tok)->encode(prompt, tokenizer::EncodeOptions{false}).value());

  const std::string request =
      R"({"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":true,"chat_template_kwargs":{"enable_thinking":false}})";
  auto with_kwargs = run_cli({"--tokenizer", path, "--chat", "--text", request});
  ASSERT_EQ(with_kwargs.status, 0) << with_kwargs.output;
  EXPECT_EQ(std::string(last_json_line(with_kwargs.output).at("prompt").as_string()),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST_F(TokenizerCliTest, DecodesIds) {
  auto r = run_cli({"--tokenizer", model_file("llama3_1", "tokenizer.json"), "--decode", "--skip-special",
                    "--text", "[128000, 9906, 1917, 0]"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(std::string(last_json_line(r.output).at("text").as_string()), "Hello world!");
}

TEST_F(TokenizerCliTest, FailsClearly) {
  auto missing = run_cli({"--tokenizer", "/nonexistent/tokenizer.json", "--text", "x"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("cannot open tokenizer file"), std::string::npos) << missing.output;
  auto no_template =
      run_cli({"--tokenizer", model_file("llama2", "tokenizer.json"), "--chat", "--text", "[]"});
  EXPECT_EQ(no_template.status, 2);
  EXPECT_NE(no_template.output.find("no chat template"), std::string::npos) << no_template.output;
  auto bad_json =
      run_cli({"--tokenizer", model_file("qwen3", "tokenizer.json"), "--chat", "--text", "{oops"});
  EXPECT_EQ(bad_json.status, 1);
  auto bad_ids =
      run_cli({"--tokenizer", model_file("qwen3", "tokenizer.json"), "--decode", "--text", "[-1]"});
  EXPECT_EQ(bad_ids.status, 1);
}

}  // namespace
}  // namespace llmd::testing::tok

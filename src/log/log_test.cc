#include "log/log.h"

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

#include <gtest/gtest.h>

namespace llmd::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    init("info");
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink_->set_pattern("%l %v");
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  void TearDown() override {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    init("info");
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST_F(LogTest, FormatsKeyValueFields) {
  info("request done", kv("request_id", "r-1"), kv("status", 200), kv("model", "meta llama"));
  EXPECT_EQ(out_.str(), "info request done request_id=r-1 status=200 model=\"meta llama\"\n");
}

TEST_F(LogTest, LevelFiltersMessages) {
  ASSERT_TRUE(set_level("warn"));
  info("hidden");
  warn("shown", kv("k", "v"));
  EXPECT_EQ(out_.str(), "warning shown k=v\n");
}

TEST_F(LogTest, RejectsUnknownLevel) {
  EXPECT_FALSE(set_level("verbose"));
  EXPECT_TRUE(set_level("off"));
}

TEST_F(LogTest, EnvironmentSetsLevelWhenFlagEmpty) {
  setenv("LLMD_LOG_LEVEL", "error", 1);
  ASSERT_TRUE(init(""));
  warn("hidden");
  error("shown");
  unsetenv("LLMD_LOG_LEVEL");
  EXPECT_EQ(out_.str(), "error shown\n");
}

TEST_F(LogTest, EscapesQuotesAndNewlines) {
  info("m", kv("v", std::string("a\"b\nc")));
  EXPECT_EQ(out_.str(), "info m v=\"a\\\"b\\nc\"\n");
}

}  // namespace
}  // namespace llmd::log

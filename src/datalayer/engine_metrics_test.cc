#include "datalayer/engine_metrics.h"

#include <gtest/gtest.h>

#include "http/testing/fake_upstream.h"

namespace llmd::datalayer {
namespace {

sched::EndpointMetrics extract(EngineType engine, const std::string& text, ExtractReport* report = nullptr) {
  metrics::Page page;
  metrics::ParseOptions po;
  po.on_error = metrics::OnError::kSkipLine;
  po.filter = &scrape_filter(engine);
  auto r = metrics::parse(text, page, po);
  EXPECT_TRUE(r);
  return extract_metrics(engine, page, Nanos(42), report);
}

TEST(ExtractMetrics, VllmPage) {
  ExtractReport report;
  auto m = extract(EngineType::kVllm, http::testing::vllm_metrics_page(3, 5, 0.25, 32, 2048), &report);
  EXPECT_EQ(m.waiting_queue_size, 3);
  EXPECT_EQ(m.running_requests_size, 5);
  EXPECT_DOUBLE_EQ(m.kv_cache_usage, 0.25);
  EXPECT_EQ(m.cache_block_size, 32);
  EXPECT_EQ(m.cache_num_gpu_blocks, 2048);
  EXPECT_EQ(m.update_time, Nanos(42));
  EXPECT_TRUE(report.complete());
  EXPECT_TRUE(report.has_cache_config);
  EXPECT_EQ(report.missing(), "");
}

TEST(ExtractMetrics, FilterSkipsUnwantedSeries) {
  metrics::Page page;
  metrics::ParseOptions po;
  po.filter = &scrape_filter(EngineType::kVllm);
  const std::string text = http::testing::vllm_metrics_page(1, 1, 0.5);  // the page's samples point into it
  ASSERT_TRUE(metrics::parse(text, page, po));
  for (const auto& s : page.samples()) {
    EXPECT_TRUE(s.name.starts_with("vllm:num_requests") || s.name == "vllm:kv_cache_usage_perc" ||
                s.name == "vllm:cache_config_info")
        << s.name;
  }
  EXPECT_EQ(page.samples().size(), 4u);
}

TEST(ExtractMetrics, DataParallelRanksSumQueuesAndTakeMaxKv) {
  const std::string text =
      "vllm:num_requests_waiting{engine=\"0\"} 2\n"
      "vllm:num_requests_waiting{engine=\"1\"} 3\n"
      "vllm:num_requests_running{engine=\"0\"} 4\n"
      "vllm:num_requests_running{engine=\"1\"} 1\n"
      "vllm:kv_cache_usage_perc{engine=\"0\"} 0.2\n"
      "vllm:kv_cache_usage_perc{engine=\"1\"} 0.7\n";
  auto m = extract(EngineType::kVllm, text);
  EXPECT_EQ(m.waiting_queue_size, 5);
  EXPECT_EQ(m.running_requests_size, 5);
  EXPECT_DOUBLE_EQ(m.kv_cache_usage, 0.7);
}

TEST(ExtractMetrics, LegacyKvNameAndLoraNewestSeries) {
  const std::string text =
      "vllm:gpu_cache_usage_perc 0.4\n"
      "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"old\",waiting_lora_adapters=\"\"} 100\n"
      "vllm:lora_requests_info{max_lora=\"4\",running_lora_adapters=\"a, b\",waiting_lora_adapters=\"c\"} "
      "200\n"
      "vllm:lora_requests_info{max_lora=\"3\",running_lora_adapters=\"older\",waiting_lora_adapters=\"\"} "
      "50\n";
  ExtractReport report;
  auto m = extract(EngineType::kVllm, text, &report);
  EXPECT_DOUBLE_EQ(m.kv_cache_usage, 0.4);
  EXPECT_EQ(m.active_models, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.waiting_models, (std::vector<std::string>{"c"}));
  EXPECT_EQ(m.max_active_models, 4);
  EXPECT_TRUE(report.has_lora);
  EXPECT_TRUE(report.has_kv_usage);
  EXPECT_EQ(report.missing(), "waiting_queue_size,running_requests_size");
}

TEST(ExtractMetrics, SglangNames) {
  const std::string text =
      "sglang:num_queue_reqs{model_name=\"m\"} 7\n"
      "sglang:num_running_reqs{model_name=\"m\"} 9\n"
      "sglang:token_usage{model_name=\"m\"} 0.125\n"
      "sglang:cache_config_info{page_size=\"64\",num_pages=\"512\"} 1\n"
      "vllm:num_requests_waiting 99\n";
  ExtractReport report;
  auto m = extract(EngineType::kSglang, text, &report);
  EXPECT_EQ(m.waiting_queue_size, 7);
  EXPECT_EQ(m.running_requests_size, 9);
  EXPECT_DOUBLE_EQ(m.kv_cache_usage, 0.125);
  EXPECT_EQ(m.cache_block_size, 64);
  EXPECT_EQ(m.cache_num_gpu_blocks, 512);
  EXPECT_TRUE(report.complete());
}

TEST(ExtractMetrics, MissingAndOddValues) {
  ExtractReport report;
  auto m =
      extract(EngineType::kVllm, "vllm:num_requests_waiting NaN\nvllm:kv_cache_usage_perc 1.5\n", &report);
  EXPECT_EQ(m.waiting_queue_size, 0);
  EXPECT_EQ(m.running_requests_size, 0);
  EXPECT_DOUBLE_EQ(m.kv_cache_usage, 1.0);  // clamped to a fraction
  EXPECT_FALSE(report.complete());
  EXPECT_EQ(report.missing(), "running_requests_size");

  ExtractReport empty;
  extract(EngineType::kVllm, "", &empty);
  EXPECT_EQ(empty.missing(), "waiting_queue_size,running_requests_size,kv_cache_usage");
}

TEST(SameValues, IgnoresUpdateTime) {
  sched::EndpointMetrics a;
  a.waiting_queue_size = 1;
  a.update_time = Nanos(1);
  sched::EndpointMetrics b = a;
  b.update_time = Nanos(2);
  EXPECT_TRUE(same_values(a, b));
  b.kv_cache_usage = 0.5;
  EXPECT_FALSE(same_values(a, b));
}

}  // namespace
}  // namespace llmd::datalayer

#include "loadgen/bench_config.h"

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

TEST(BenchConfig, ReadsEverySection) {
  auto c = parse_bench_config(R"(
targets: [http://127.0.0.1:8000, http://127.0.0.1:8001]
api: {type: chat, streaming: true, model: sim, ignore_eos: false, headers: {X-Team: a}}
data:
  type: shared_prefix
  seed: 7
  shared_prefix: {num_groups: 150, prompts_per_group: 5, system_prompt_len: 6000, question_len: 1200,
                  output_len: 1000, turns: 2}
load:
  type: poisson
  warmup: {rate: 15, duration: 30s}
  stages: [{rate: 3, duration: 50s}, {rate: 10, duration: 1m, num_requests: 400}]
  max_inflight: 500
  timeout: 90s
slo: {ttft: 500ms, tpot: 50ms}
report: {output: run.json, requests_csv: r.csv, description: baseline, keywords: [rr, sim]}
)",
                              "bench.yaml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->targets.size(), 2u);
  EXPECT_EQ(c->request.api, ApiKind::kChatCompletions);
  EXPECT_EQ(c->request.model, "sim");
  EXPECT_FALSE(c->request.ignore_eos);
  EXPECT_EQ(c->headers.at("X-Team"), "a");
  EXPECT_EQ(c->workload.seed, 7u);
  EXPECT_EQ(c->workload.shared_prefix.num_groups, 150u);
  EXPECT_EQ(c->workload.shared_prefix.system_prompt_len, 6000u);
  EXPECT_EQ(c->workload.shared_prefix.turns, 2u);
  EXPECT_EQ(c->load.kind, LoadKind::kPoisson);
  ASSERT_TRUE(c->load.warmup);
  EXPECT_EQ(c->load.warmup->rate, 15);
  EXPECT_EQ(c->load.warmup->duration_s, 30);
  ASSERT_EQ(c->load.stages.size(), 2u);
  EXPECT_EQ(c->load.stages[1].duration_s, 60);
  EXPECT_EQ(c->load.stages[1].num_requests, 400u);
  EXPECT_EQ(c->max_inflight, 500u);
  EXPECT_EQ(c->timeout.count(), 90);
  EXPECT_DOUBLE_EQ(*c->slo.ttft_s, 0.5);
  EXPECT_DOUBLE_EQ(*c->slo.tpot_s, 0.05);
  EXPECT_EQ(c->output.report, "run.json");
  EXPECT_EQ(c->output.keywords.size(), 2u);
  EXPECT_TRUE(c->validate());
}

TEST(BenchConfig, SyntheticProfileSetsShapesThatRandomOverrides) {
  auto c = parse_bench_config("data: {type: code_completion, random: {output: 'fixed:64'}}", "x");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->workload.kind, WorkloadKind::kCodeCompletion);
  EXPECT_EQ(c->workload.random.input.mean, 2048);
  EXPECT_EQ(c->workload.random.output.kind, DistributionKind::kFixed);
  EXPECT_EQ(c->workload.random.output.mean, 64);
}

TEST(BenchConfig, ErrorsNameThePath) {
  auto unknown = parse_bench_config("load: {stages: [{rate: 1, duratoin: 5s}]}", "b.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("load.stages[0].duratoin"), std::string::npos)
      << unknown.error().message;
  auto dist = parse_bench_config("data: {random: {input: 'normal:5'}}", "b.yaml");
  ASSERT_FALSE(dist);
  EXPECT_NE(dist.error().message.find("data.random.input"), std::string::npos) << dist.error().message;
  auto kind = parse_bench_config("load: {type: burst}", "b.yaml");
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message.find("load.type"), std::string::npos);
}

TEST(BenchConfig, ValidateCatchesMissingAndConflictingSettings) {
  BenchConfig c;
  c.load.stages = {{1, 0, 1, 0}};
  EXPECT_NE(c.validate().error().message.find("targets"), std::string::npos);
  c.targets = {"http://127.0.0.1:1"};
  EXPECT_NE(c.validate().error().message.find("api.model"), std::string::npos);
  c.request.model = "m";
  EXPECT_TRUE(c.validate());
  c.request.stream = false;
  c.slo.ttft_s = 0.5;
  EXPECT_NE(c.validate().error().message.find("slo.ttft"), std::string::npos);
  c.slo.ttft_s.reset();
  c.headers["bad name"] = "x";
  EXPECT_FALSE(c.validate());
}

TEST(BenchConfig, ParsesSloDurations) {
  EXPECT_DOUBLE_EQ(*parse_seconds("500ms", "x"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_seconds("1.5s", "x"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_seconds("2m", "x"), 120);
  EXPECT_DOUBLE_EQ(*parse_seconds("250", "x"), 0.25);
  EXPECT_DOUBLE_EQ(*parse_seconds("800us", "x"), 0.0008);
  for (const char* bad : {"", "ms", "-1s", "1h", "abc", "1.5.5s"})
    EXPECT_FALSE(parse_seconds(bad, "--slo-ttft")) << bad;
}

}  // namespace
}  // namespace llmd::loadgen

#include "loadgen/runner.h"

#include <set>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "common/testing/refused_port.h"
#include "http/testing/fake_upstream.h"

namespace llmd::loadgen {
namespace {

using http::testing::FakeUpstream;

Workload small_workload(uint32_t output_len = 5) {
  WorkloadSpec spec;
  spec.kind = WorkloadKind::kSharedPrefix;
  spec.shared_prefix = {2, 3, 32, 8, output_len, 1};
  CharsPerTokenCounter counter;
  return build_workload(spec, counter).value();
}

RunnerOptions options_for(std::initializer_list<uint16_t> ports) {
  RunnerOptions o;
  for (uint16_t p : ports) o.targets.push_back(Target{"127.0.0.1", p, ""});
  o.request.model = "fake";
  o.request_timeout = std::chrono::milliseconds(10'000);
  return o;
}

LoadSpec count_stage(LoadKind kind, uint64_t n, double rate = 500, uint32_t concurrency = 4) {
  LoadSpec l;
  l.kind = kind;
  Stage s;
  s.rate = kind == LoadKind::kConcurrent ? 0 : rate;
  s.concurrency = kind == LoadKind::kConcurrent ? concurrency : 0;
  s.num_requests = n;
  l.stages = {s};
  return l;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a_.start());
    ASSERT_TRUE(b_.start());
  }
  FakeUpstream a_{"a"}, b_{"b"};
  const Workload workload_ = small_workload();
};

TEST_F(RunnerTest, StreamsAtAConstantRateAcrossTargets) {
  auto out = run_blocking(SystemClock::instance(), workload_, count_stage(LoadKind::kConstant, 20),
                          options_for({a_.port(), b_.port()}), nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->records.size(), 1u);
  const auto& recs = out->records[0];
  ASSERT_EQ(recs.size(), 20u);
  std::set<uint32_t> prompts;
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(r.upstream, i % 2);
    EXPECT_EQ(r.output_tokens, 5u);  // from usage
    EXPECT_EQ(r.token_times.size(), 5u);
    EXPECT_TRUE(r.usage_reported);
    EXPECT_EQ(r.cached_tokens, FakeUpstream::kCachedTokens);
    EXPECT_GE(r.start, r.scheduled);
    EXPECT_GE(r.token_times.front(), r.start);
    EXPECT_GE(r.end, r.token_times.back());
    prompts.insert(r.prompt);
  }
  EXPECT_EQ(prompts.size(), 6u);  // cycles through the 2 x 3 prompts
  EXPECT_EQ(a_.requests(), 10u);
  EXPECT_EQ(b_.requests(), 10u);
  const auto& s = out->result.overall;
  EXPECT_EQ(s.succeeded, 20u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.output_tokens, 100u);
  EXPECT_EQ(s.ttft.count, 20u);
  EXPECT_EQ(s.itl.count, 80u);  // 4 gaps per request
  EXPECT_EQ(s.tpot.count, 20u);
  EXPECT_EQ(out->result.stages.size(), 1u);
  EXPECT_EQ(out->result.info.targets[1], fmt::format("http://127.0.0.1:{}", b_.port()));
  EXPECT_EQ(out->result.generator.dropped, 0u);
}

TEST_F(RunnerTest, ClosedLoopChatWithWarmup) {
  auto load = count_stage(LoadKind::kConcurrent, 12, 0, 3);
  load.warmup = Stage{0, 2, 0, 4};
  auto opt = options_for({a_.port()});
  opt.request.api = ApiKind::kChatCompletions;
  auto out = run_blocking(SystemClock::instance(), workload_, load, opt, nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->result.stages.size(), 2u);
  EXPECT_EQ(out->result.stages[0].kind, StageKind::kWarmup);
  EXPECT_EQ(out->result.stages[0].summary.succeeded, 4u);
  EXPECT_EQ(out->result.stages[1].summary.succeeded, 12u);
  EXPECT_EQ(out->result.overall.total, 12u);  // warm-up excluded
  EXPECT_EQ(out->result.overall.itl.count, 48u);
  EXPECT_EQ(a_.requests(), 16u);
}

TEST_F(RunnerTest, NonStreamingHasNoTtftButCountsTokens) {
  auto opt = options_for({a_.port()});
  opt.request.stream = false;
  auto out = run_blocking(SystemClock::instance(), workload_, count_stage(LoadKind::kConstant, 6), opt,
                          nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  const auto& s = out->result.overall;
  EXPECT_EQ(s.succeeded, 6u);
  EXPECT_EQ(s.output_tokens, 30u);
  EXPECT_EQ(s.ttft.count, 0u);
  EXPECT_EQ(s.ntpot.count, 6u);
  EXPECT_EQ(s.cached_tokens, 6u * FakeUpstream::kCachedTokens);
}

TEST_F(RunnerTest, ClassifiesFailuresByType) {
  struct Case {
    const char* header;
    const char* value;
    std::string type;
  };
  for (const Case& c :
       {Case{"x-fake-status", "429", "http_429"}, Case{"x-fake-status", "503", "http_503"},
        Case{"x-fake-mode", "stream-error", "stream_error"}, Case{"x-fake-mode", "truncate", "incomplete"}}) {
    auto opt = options_for({a_.port()});
    opt.headers = {{c.header, c.value}};
    auto out = run_blocking(SystemClock::instance(), workload_, count_stage(LoadKind::kConstant, 3), opt,
                            nullptr, false);
    ASSERT_TRUE(out) << out.error().message;
    const auto& s = out->result.overall;
    EXPECT_EQ(s.succeeded, 0u) << c.type;
    EXPECT_EQ(s.failed, 3u) << c.type;
    ASSERT_EQ(s.errors.count(c.type), 1u) << c.type;
    EXPECT_EQ(s.errors.at(c.type), 3u);
  }
}

TEST_F(RunnerTest, ConnectFailuresAreCounted) {
  const llmd::testing::RefusedPort dead;  // connects are refused for the whole test
  auto out = run_blocking(SystemClock::instance(), workload_, count_stage(LoadKind::kConstant, 4),
                          options_for({a_.port(), dead.port()}), nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->result.overall.succeeded, 2u);
  EXPECT_EQ(out->result.overall.errors.at("connect_failed"), 2u);
}

TEST_F(RunnerTest, InflightBoundDropsAndCounts) {
  auto opt = options_for({a_.port()});
  opt.max_inflight = 1;
  opt.headers = {{"x-fake-delay-ms", "2000"}};
  // Ten sends within 10 ms while the first answer takes 2 s: only the first fits the bound.
  auto out = run_blocking(SystemClock::instance(), workload_, count_stage(LoadKind::kConstant, 10, 1000), opt,
                          nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->result.overall.succeeded, 1u);
  EXPECT_EQ(out->result.overall.errors.at("dropped"), 9u);
  EXPECT_EQ(out->result.generator.dropped, 9u);
  EXPECT_EQ(out->result.generator.max_inflight_seen, 1u);
}

TEST_F(RunnerTest, SweepProbesThenLaddersUpToSaturation) {
  LoadSpec load;
  load.kind = LoadKind::kSweep;
  load.sweep.num_stages = 2;
  load.sweep.stage_duration_s = 0.3;
  load.sweep.probe_concurrency = 4;
  load.sweep.probe_duration_s = 0.3;
  load.sweep.arrivals = LoadKind::kConstant;
  auto out = run_blocking(SystemClock::instance(), workload_, load, options_for({a_.port()}), nullptr, false);
  ASSERT_TRUE(out) << out.error().message;
  const auto& st = out->result.stages;
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].kind, StageKind::kProbe);
  EXPECT_EQ(st[0].arrivals, LoadKind::kConcurrent);
  const double sat = st[0].summary.request_rate;
  ASSERT_GT(sat, 0);
  EXPECT_DOUBLE_EQ(st[1].stage.rate, sat / 2);
  EXPECT_DOUBLE_EQ(st[2].stage.rate, sat);
  EXPECT_EQ(st[2].kind, StageKind::kMeasure);
  EXPECT_EQ(out->result.info.load.stages.size(), 2u);  // the derived ladder is recorded
}

TEST(RunnerTarget, ParsesBaseUrls) {
  auto t = parse_target("http://127.0.0.1:8000", "--url");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 8000);
  EXPECT_EQ(t->base_path, "");
  auto p = parse_target("http://gw.local/pool-a/v1/", "--url");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->port, 80);
  EXPECT_EQ(p->base_path, "/pool-a");
  EXPECT_EQ(p->url(), "http://gw.local:80/pool-a");
  for (const char* bad :
       {"https://x:1", "127.0.0.1:8000", "http://", "http://h:1/?q=1", "http://u@h:1", "http://h:0"}) {
    auto r = parse_target(bad, "--url");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("--url"), std::string::npos);
  }
}

}  // namespace
}  // namespace llmd::loadgen

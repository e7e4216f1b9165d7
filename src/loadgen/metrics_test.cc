#include "loadgen/metrics.h"

#include <chrono>
#include <cmath>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

using std::chrono::milliseconds;

// A streamed request sent at `start_ms` whose tokens arrive at the given times.
RequestRecord timeline(int start_ms, std::vector<int> token_ms, int end_ms, uint32_t out = 0) {
  RequestRecord r;
  r.scheduled = milliseconds(start_ms);
  r.start = milliseconds(start_ms);
  for (int t : token_ms) r.token_times.push_back(milliseconds(t));
  r.end = milliseconds(end_ms);
  r.output_tokens = out ? out : static_cast<uint32_t>(token_ms.size());
  r.input_tokens = 100;
  return r;
}

TEST(Metrics, DerivesTtftTpotNtpotFromATimeline) {
  auto r = timeline(0, {100, 120, 150, 190}, 200);
  const auto m = derive_metrics(r);
  EXPECT_DOUBLE_EQ(m.e2e, 0.2);
  ASSERT_TRUE(m.ttft);
  EXPECT_DOUBLE_EQ(*m.ttft, 0.1);
  ASSERT_TRUE(m.tpot);
  EXPECT_NEAR(*m.tpot, 0.1 / 3, 1e-12);  // (E2E - TTFT) / (out - 1)
  ASSERT_TRUE(m.ntpot);
  EXPECT_DOUBLE_EQ(*m.ntpot, 0.05);  // E2E / out
  std::vector<double> itl;
  append_itl(r, itl);
  ASSERT_EQ(itl.size(), 3u);
  EXPECT_NEAR(itl[0], 0.02, 1e-12);
  EXPECT_NEAR(itl[1], 0.03, 1e-12);
  EXPECT_NEAR(itl[2], 0.04, 1e-12);
}

TEST(Metrics, UsageCountBeatsChunkCountForTpot) {
  // Two chunks but the usage says 5 tokens (the server batched tokens into chunks).
  auto r = timeline(0, {50, 250}, 250, 5);
  const auto m = derive_metrics(r);
  EXPECT_NEAR(*m.tpot, 0.2 / 4, 1e-12);
  EXPECT_NEAR(*m.ntpot, 0.05, 1e-12);
}

TEST(Metrics, UndefinedMetricsStayUnset) {
  auto one = timeline(0, {30}, 40);
  EXPECT_FALSE(derive_metrics(one).tpot);
  EXPECT_TRUE(derive_metrics(one).ttft);
  auto unstreamed = timeline(0, {}, 80, 10);
  unstreamed.streamed = false;
  const auto m = derive_metrics(unstreamed);
  EXPECT_FALSE(m.ttft);
  EXPECT_FALSE(m.tpot);
  EXPECT_DOUBLE_EQ(*m.ntpot, 0.008);
}

TEST(Metrics, ScheduleLagIsStartMinusScheduled) {
  auto r = timeline(10, {20}, 30);
  r.scheduled = milliseconds(4);
  EXPECT_NEAR(derive_metrics(r).schedule_lag, 0.006, 1e-12);
}

TEST(Metrics, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  const Stats s = compute_stats(v);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
  EXPECT_DOUBLE_EQ(s.p90, 3.7);  // numpy.percentile([1,2,3,4], 90)
  EXPECT_DOUBLE_EQ(s.p25, 1.75);
  EXPECT_NEAR(s.stddev, std::sqrt(1.25), 1e-12);
  std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(compute_stats(one).p99, 7);
  std::vector<double> none;
  EXPECT_EQ(compute_stats(none).count, 0u);
}

TEST(Metrics, SummarizesThroughputErrorsAndGoodput) {
  std::vector<RequestRecord> rs;
  rs.push_back(timeline(0, {100, 200, 300}, 300));    // ttft 0.1, tpot 0.1
  rs.push_back(timeline(100, {150, 170, 190}, 200));  // ttft 0.05, tpot 0.025
  rs.push_back(timeline(200, {600, 610}, 1000));      // ttft 0.4, tpot 0.4
  rs[1].usage_reported = true;
  rs[1].cached_tokens = 60;
  RequestRecord e503 = timeline(300, {}, 350);
  e503.status = RequestStatus::kHttpError;
  e503.http_status = 503;
  RequestRecord e503b = e503;
  RequestRecord tmo = timeline(400, {}, 900);
  tmo.status = RequestStatus::kTimeout;
  RequestRecord dropped;
  dropped.status = RequestStatus::kDropped;
  rs.insert(rs.end(), {e503, e503b, tmo, dropped});

  SloSpec slo;
  slo.ttft_s = 0.2;
  slo.tpot_s = 0.2;
  const Summary s = summarize(rs, slo);
  EXPECT_EQ(s.total, 7u);
  EXPECT_EQ(s.succeeded, 3u);
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.errors.at("http_503"), 2u);
  EXPECT_EQ(s.errors.at("timeout"), 1u);
  EXPECT_EQ(s.errors.at("dropped"), 1u);
  EXPECT_DOUBLE_EQ(s.duration_s, 1.0);  // first send at 0, last end at 1000 ms
  EXPECT_DOUBLE_EQ(s.request_rate, 3.0);
  EXPECT_EQ(s.output_tokens, 8u);
  EXPECT_DOUBLE_EQ(s.output_token_rate, 8.0);
  EXPECT_DOUBLE_EQ(s.input_token_rate, 300.0);
  EXPECT_DOUBLE_EQ(s.total_token_rate, 308.0);
  EXPECT_EQ(s.ttft.count, 3u);
  EXPECT_DOUBLE_EQ(s.ttft.p50, 0.1);
  EXPECT_EQ(s.itl.count, 5u);  // 2 + 2 + 1 gaps
  // Goodput: requests 0 and 1 meet TTFT <= 0.2 and TPOT <= 0.2; request 2 misses both.
  EXPECT_TRUE(s.slo_set);
  EXPECT_EQ(s.good_requests, 2u);
  EXPECT_DOUBLE_EQ(s.goodput_rate, 2.0);
  EXPECT_DOUBLE_EQ(s.goodput_token_rate, 6.0);
  EXPECT_NEAR(s.goodput_fraction, 2.0 / 7, 1e-12);
  EXPECT_DOUBLE_EQ(s.cache_hit_fraction, 0.6);
  ASSERT_EQ(s.ttft_quantiles.size(), 101u);
  EXPECT_DOUBLE_EQ(s.ttft_quantiles.front(), 0.05);
  EXPECT_DOUBLE_EQ(s.ttft_quantiles.back(), 0.4);
}

TEST(Metrics, SloOnTtftAloneIgnoresTpot) {
  SloSpec slo;
  slo.ttft_s = 0.5;
  RequestMetrics m;
  m.ttft = 0.4;
  m.tpot = 10;
  EXPECT_TRUE(meets_slo(m, true, slo));
  EXPECT_FALSE(meets_slo(m, false, slo));
  m.ttft.reset();
  EXPECT_FALSE(meets_slo(m, true, slo));  // no TTFT measured cannot meet a TTFT SLO
}

}  // namespace
}  // namespace llmd::loadgen

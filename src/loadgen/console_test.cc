#include "loadgen/console.h"

#include <chrono>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

TEST(Console, ProgressFromDurationOrCount) {
  ProgressSnapshot s;
  s.elapsed_s = 5;
  s.stage_duration_s = 20;
  EXPECT_DOUBLE_EQ(*stage_progress(s), 0.25);
  EXPECT_DOUBLE_EQ(*stage_eta(s), 15);
  s.stage_requests = 100;
  s.sent = 50;  // 10 req/s so far: 5 s left by count, 15 s by duration
  EXPECT_DOUBLE_EQ(*stage_progress(s), 0.5);
  EXPECT_DOUBLE_EQ(*stage_eta(s), 5);
  ProgressSnapshot unknown;
  EXPECT_FALSE(stage_progress(unknown));
  EXPECT_FALSE(stage_eta(unknown));
}

TEST(Console, ProgressBarAndLine) {
  ProgressSnapshot s;
  s.stage = 1;
  s.stages = 4;
  s.stage_label = "const 5/s";
  s.elapsed_s = 10;
  s.stage_duration_s = 40;
  s.in_flight = 7;
  s.errors = 2;
  s.rate = 4.96;
  s.sent = 50;
  s.completed = 43;
  const std::string bar = format_progress_bar(s, 8);
  EXPECT_EQ(bar, "[##......]  25% stage 2/4 const 5/s | 5.0 req/s | in-flight 7 | errors 2 | ETA 0:30");
  const std::string line = format_progress_line(s);
  EXPECT_EQ(line, "stage 2/4 (const 5/s) t=10.0s sent=50 done=43 in_flight=7 errors=2 rate=5.0/s eta=0:30\n");
}

TEST(Console, SummaryTableHasAStageRowAndTotals) {
  RunResult run;
  std::vector<RequestRecord> rs(2);
  rs[0].start = std::chrono::milliseconds(0);
  rs[0].token_times = {std::chrono::milliseconds(40)};
  rs[0].end = std::chrono::milliseconds(50);
  rs[0].output_tokens = 1;
  rs[1].status = RequestStatus::kTimeout;
  run.info.slo.ttft_s = 0.1;
  run.stages.push_back(
      {0, StageKind::kMeasure, LoadKind::kConstant, {5, 0, 10, 0}, summarize(rs, run.info.slo)});
  run.overall = run.stages[0].summary;
  const std::string t = format_summary_table(run);
  EXPECT_NE(t.find("const 5/s"), std::string::npos);
  EXPECT_NE(t.find("40.0"), std::string::npos);  // TTFT p50 in ms
  EXPECT_NE(t.find("errors: timeout=1"), std::string::npos);
  EXPECT_NE(t.find("goodput: 1 of 2 requests met the SLOs (50.0%)"), std::string::npos);
}

}  // namespace
}  // namespace llmd::loadgen

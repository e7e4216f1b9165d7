#include "loadgen/report.h"

#include <chrono>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

std::vector<RequestRecord> records(int n, int ttft_ms) {
  std::vector<RequestRecord> out;
  for (int i = 0; i < n; ++i) {
    RequestRecord r;
    r.id = i;
    r.scheduled = r.start = milliseconds(i * 10);
    r.token_times = {milliseconds(i * 10 + ttft_ms), milliseconds(i * 10 + ttft_ms + 5)};
    r.end = milliseconds(i * 10 + ttft_ms + 5);
    r.output_tokens = 2;
    r.input_tokens = 50;
    r.usage_reported = true;
    r.cached_tokens = 25;
    out.push_back(r);
  }
  RequestRecord bad;
  bad.id = n;
  bad.status = RequestStatus::kHttpError;
  bad.http_status = 429;
  bad.start = bad.end = milliseconds(3);
  out.push_back(bad);
  return out;
}

RunResult sample_run() {
  RunResult run;
  run.info.uid = "abc123";
  run.info.description = "baseline";
  run.info.keywords = {"rr"};
  run.info.wall_start = std::chrono::seconds(1'700'000'000);
  run.info.wall_end = std::chrono::seconds(1'700'000'012);
  run.info.targets = {"http://127.0.0.1:8000"};
  run.info.request.model = "m";
  run.info.workload.kind = WorkloadKind::kSharedPrefix;
  run.info.load.kind = LoadKind::kConstant;
  run.info.load.stages = {{5, 0, 10, 0}, {10, 0, 10, 0}};
  run.info.slo.ttft_s = 0.05;
  run.stages.push_back(
      {0, StageKind::kWarmup, LoadKind::kConstant, {5, 0, 2, 0}, summarize(records(3, 100), run.info.slo)});
  auto a = records(10, 20);
  auto b = records(10, 80);
  run.stages.push_back(
      {1, StageKind::kMeasure, LoadKind::kConstant, {5, 0, 10, 0}, summarize(a, run.info.slo)});
  run.stages.push_back(
      {2, StageKind::kMeasure, LoadKind::kConstant, {10, 0, 10, 0}, summarize(b, run.info.slo)});
  a.insert(a.end(), b.begin(), b.end());
  run.overall = summarize(a, run.info.slo);
  return run;
}

const json::value& at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    EXPECT_TRUE(cur->is_object()) << key;
    cur = &cur->as_object().at(key);
  }
  return *cur;
}

TEST(Report, HasV02FieldsWithTheRightTypes) {
  const json::value doc = to_report_json(sample_run());
  EXPECT_EQ(at(doc, {"version"}).as_string(), "0.2");
  EXPECT_EQ(at(doc, {"run", "uid"}).as_string(), "abc123");
  EXPECT_EQ(at(doc, {"run", "time", "start"}).as_string(), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(at(doc, {"run", "time", "duration"}).as_string(), "PT12.000S");
  const auto& agg = at(doc, {"results", "request_performance", "aggregate"});
  EXPECT_EQ(at(agg, {"requests", "total"}).to_number<int>(), 22);
  EXPECT_EQ(at(agg, {"requests", "failures"}).to_number<int>(), 2);
  for (auto metric : {"time_to_first_token", "time_per_output_token", "inter_token_latency",
                      "normalized_time_per_output_token", "request_latency"}) {
    const auto& s = at(agg, {"latency", metric});
    for (auto field : {"mean", "p50", "p90", "p95", "p99", "min", "max", "stddev"}) {
      EXPECT_TRUE(s.as_object().at(field).is_double()) << metric << "." << field;
    }
    EXPECT_TRUE(s.as_object().at("units").is_string());
  }
  EXPECT_EQ(at(agg, {"latency", "time_to_first_token", "units"}).as_string(), "s");
  EXPECT_EQ(at(agg, {"latency", "time_per_output_token", "units"}).as_string(), "s/token");
  EXPECT_DOUBLE_EQ(at(agg, {"latency", "time_to_first_token", "p50"}).as_double(), 0.05);
  for (auto rate : {"request_rate", "input_token_rate", "output_token_rate", "total_token_rate"}) {
    EXPECT_TRUE(at(agg, {"throughput", rate, "mean"}).is_double()) << rate;
  }
  EXPECT_EQ(at(agg, {"throughput", "request_rate", "units"}).as_string(), "queries/s");
  const auto& std_load = at(doc, {"scenario", "load", "standardized"});
  EXPECT_EQ(at(std_load, {"tool"}).as_string(), "llmd-bench");
  EXPECT_EQ(at(std_load, {"input_seq_len", "distribution"}).as_string(), "fixed");
  EXPECT_FALSE(std_load.as_object().contains("rate_qps"));  // two measured stages
  EXPECT_EQ(at(doc, {"scenario", "load", "native", "config", "api", "model"}).as_string(), "m");

  const auto& bench = at(doc, {"results", "profiling", "llmd_bench"});
  EXPECT_EQ(at(bench, {"errors", "http_429"}).to_number<int>(), 2);
  EXPECT_EQ(at(bench, {"goodput", "good_requests"}).to_number<int>(), 10);  // only the 20 ms-TTFT stage
  EXPECT_EQ(at(bench, {"ttft_quantiles_s"}).as_array().size(), 101u);
  const auto& stages = at(bench, {"stages"}).as_array();
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(at(stages[0], {"kind"}).as_string(), "warmup");
  EXPECT_EQ(at(stages[1], {"load", "rate_qps"}).to_number<double>(), 5);
  EXPECT_TRUE(at(stages[2], {"request_performance", "aggregate", "latency", "time_to_first_token", "p90"})
                  .is_double());
}

TEST(Report, ParseReadsBackMeasuredStages) {
  const std::string text = json::serialize(to_report_json(sample_run()));
  auto parsed = parse_report(text, "file.json");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->label, "baseline");
  ASSERT_EQ(parsed->points.size(), 2u);
  EXPECT_EQ(parsed->points[0].offered_rate, 5);
  EXPECT_EQ(parsed->points[1].offered_rate, 10);
  EXPECT_NEAR(*parsed->points[0].ttft_p50, 0.02, 1e-12);
  EXPECT_NEAR(*parsed->points[1].ttft_p90, 0.08, 1e-12);
  EXPECT_EQ(parsed->points[0].failures, 1u);
  EXPECT_GT(parsed->points[0].goodput_rate, 0);
  EXPECT_EQ(parsed->ttft_quantiles.size(), 101u);
}

TEST(Report, ParseAcceptsPlainV02Reports) {
  const char* plain =
      R"({"version":"0.2.1","run":{"uid":"u"},"scenario":{"load":{"standardized":{"rate_qps":12}}},
    "results":{"request_performance":{"aggregate":{"requests":{"total":100,"failures":3},
      "latency":{"time_to_first_token":{"units":"s","mean":0.5,"p50":0.4,"p90":0.9}},
      "throughput":{"output_token_rate":{"units":"tokens/s","mean":1234.5},
                    "request_rate":{"units":"queries/s","mean":11.5}}}}}})";
  auto parsed = parse_report(plain, "plain.json");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->label, "plain.json");
  ASSERT_EQ(parsed->points.size(), 1u);
  EXPECT_EQ(parsed->points[0].offered_rate, 12);
  EXPECT_DOUBLE_EQ(*parsed->points[0].ttft_p90, 0.9);
  EXPECT_DOUBLE_EQ(parsed->points[0].output_token_rate, 1234.5);
  EXPECT_EQ(parsed->points[0].failures, 3u);
  EXPECT_FALSE(parsed->points[0].itl_p50);
}

TEST(Report, ParseRejectsNonReports) {
  EXPECT_FALSE(parse_report("nope", "x"));
  EXPECT_FALSE(parse_report("[]", "x"));
  EXPECT_FALSE(parse_report(R"({"version":"0.1"})", "x"));
  auto no_results = parse_report(R"({"version":"0.2"})", "x");
  ASSERT_FALSE(no_results);
  EXPECT_NE(no_results.error().message.find("results"), std::string::npos);
  auto bad_stage = parse_report(
      R"({"version":"0.2","results":{"profiling":{"llmd_bench":{"stages":[{"kind":1}]}}}})", "x");
  ASSERT_FALSE(bad_stage);
  EXPECT_NE(bad_stage.error().message.find("stages[0].kind"), std::string::npos);
}

TEST(Report, PerRequestJsonlAndCsv) {
  auto rs = records(1, 20);
  const Nanos origin{0};
  auto row = json::parse(record_jsonl(rs[0], origin)).as_object();
  EXPECT_EQ(row.at("status").as_string(), "ok");
  EXPECT_DOUBLE_EQ(row.at("ttft_s").as_double(), 0.02);
  ASSERT_EQ(row.at("itl_s").as_array().size(), 1u);
  EXPECT_DOUBLE_EQ(row.at("itl_s").as_array()[0].as_double(), 0.005);
  EXPECT_EQ(row.at("cached_tokens").to_number<int>(), 25);
  auto err = json::parse(record_jsonl(rs[1], origin)).as_object();
  EXPECT_EQ(err.at("error_type").as_string(), "http_429");
  EXPECT_TRUE(err.at("ttft_s").is_null());

  auto columns = [](std::string_view line) { return std::count(line.begin(), line.end(), ',') + 1; };
  const std::string ok_row = record_csv(rs[0], origin);
  EXPECT_EQ(columns(csv_header()), columns(ok_row));
  EXPECT_EQ(columns(csv_header()), columns(record_csv(rs[1], origin)));
  EXPECT_NE(ok_row.find(",ok,"), std::string::npos);
  EXPECT_NE(ok_row.find("0.020000"), std::string::npos);
  EXPECT_NE(record_csv(rs[1], origin).find("http_429"), std::string::npos);
}

TEST(Report, Iso8601) {
  EXPECT_EQ(iso8601_duration(1.5), "PT1.500S");
  EXPECT_EQ(iso8601_time(Nanos{1'700'000'000'123'000'000}), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace llmd::loadgen

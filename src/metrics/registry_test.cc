#include "metrics/registry.h"

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace llmd::metrics {
namespace {

TEST(CounterTest, CountsWholeAndFractionalAmounts) {
  Counter c;
  c.inc();
  c.inc(41);
  c.add(0.5);
  c.add(0.25);
  EXPECT_DOUBLE_EQ(c.value(), 42.75);
}

TEST(CounterTest, IgnoresNegativeAndNaNAmounts) {
  Counter c;
  c.inc(3);
  c.add(-1.0);
  c.add(std::nan(""));
  c.add(0.0);
  EXPECT_EQ(c.value(), 3.0);
}

TEST(CounterTest, StaysExactBeyondDoublePrecisionOfIncrements) {
  Counter c;
  c.inc(uint64_t{1} << 53);
  c.inc();
  c.inc();
  EXPECT_EQ(c.value(), static_cast<double>((uint64_t{1} << 53) + 2));
}

TEST(GaugeTest, SetIncDec) {
  Gauge g;
  g.set(10);
  g.inc();
  g.inc(2.5);
  g.dec(4);
  EXPECT_DOUBLE_EQ(g.value(), 9.5);
  g.set(-3);
  EXPECT_EQ(g.value(), -3.0);
}

TEST(GaugeTest, SetToCurrentTimeUsesWallClockSeconds) {
  ManualClock clock(Nanos{0}, std::chrono::seconds(1'700'000'000));
  clock.advance(std::chrono::milliseconds(1500));
  Gauge g;
  g.set_to_current_time(clock);
  EXPECT_DOUBLE_EQ(g.value(), 1'700'000'001.5);
}

TEST(HistogramTest, BucketsAreInclusiveUpperBounds) {
  const std::vector<double> bounds = {1.0, 2.0, 5.0};
  Histogram h(bounds);
  for (double v : {0.5, 1.0, 1.5, 2.0, 5.0, 5.1, -3.0}) h.observe(v);
  h.observe(std::nan(""));
  EXPECT_EQ(h.bucket_count(0), 3u);  // 0.5, 1.0, -3.0
  EXPECT_EQ(h.bucket_count(1), 2u);  // 1.5, 2.0
  EXPECT_EQ(h.bucket_count(2), 1u);  // 5.0
  EXPECT_EQ(h.bucket_count(3), 2u);  // 5.1, NaN
  EXPECT_EQ(h.count(), 8u);
  EXPECT_TRUE(std::isnan(h.sum()));
}

TEST(HistogramTest, SumsObservations) {
  const std::vector<double> bounds = {0.1};
  Histogram h(bounds);
  h.observe(0.25);
  h.observe(0.5);
  EXPECT_EQ(h.sum(), 0.75);
  EXPECT_EQ(h.count(), 2u);
}

TEST(RegistryTest, ExposesCounterGaugeAndHistogram) {
  Registry r;
  auto requests = r.counter_family("llm_d_epp_request_total", "Requests.", {"model_name", "code"});
  ASSERT_TRUE(requests);
  (*requests)->with({"llama", "200"}).inc(3);
  (*requests)->with({"llama", "500"}).inc();
  auto running = r.gauge("vllm:num_requests_running", "Running requests.");
  ASSERT_TRUE(running);
  (*running)->set(7);
  auto ttft = r.histogram_family("ttft_seconds", "TTFT.", {"model_name"}, {0.1, 0.5, 1});
  ASSERT_TRUE(ttft);
  auto& h = (*ttft)->with({"llama"});
  h.observe(0.05);
  h.observe(0.3);
  h.observe(0.3);
  h.observe(4);

  EXPECT_EQ(r.expose(),
            "# HELP llm_d_epp_request_total Requests.\n"
            "# TYPE llm_d_epp_request_total counter\n"
            "llm_d_epp_request_total{model_name=\"llama\",code=\"200\"} 3\n"
            "llm_d_epp_request_total{model_name=\"llama\",code=\"500\"} 1\n"
            "# HELP vllm:num_requests_running Running requests.\n"
            "# TYPE vllm:num_requests_running gauge\n"
            "vllm:num_requests_running 7\n"
            "# HELP ttft_seconds TTFT.\n"
            "# TYPE ttft_seconds histogram\n"
            "ttft_seconds_bucket{model_name=\"llama\",le=\"0.1\"} 1\n"
            "ttft_seconds_bucket{model_name=\"llama\",le=\"0.5\"} 3\n"
            "ttft_seconds_bucket{model_name=\"llama\",le=\"1\"} 3\n"
            "ttft_seconds_bucket{model_name=\"llama\",le=\"+Inf\"} 4\n"
            "ttft_seconds_sum{model_name=\"llama\"} 4.65\n"
            "ttft_seconds_count{model_name=\"llama\"} 4\n");
}

TEST(RegistryTest, ExposesOnlyTheNamedSamples) {
  Registry r;
  auto requests = r.counter("llm_d_epp_request_total", "Requests.");
  ASSERT_TRUE(requests);
  (*requests)->inc(3);
  auto running = r.gauge("vllm:num_requests_running", "Running requests.");
  ASSERT_TRUE(running);
  (*running)->set(7);
  auto ttft = r.histogram("ttft_seconds", "TTFT.", {0.1, 1});
  ASSERT_TRUE(ttft);
  (*ttft)->observe(0.5);

  auto only = [&r](std::vector<std::string> names) {
    std::string out;
    r.expose_to(out, names);
    return out;
  };
  EXPECT_EQ(only({"vllm:num_requests_running"}),
            "# HELP vllm:num_requests_running Running requests.\n"
            "# TYPE vllm:num_requests_running gauge\n"
            "vllm:num_requests_running 7\n");
  // A histogram's parts are chosen by their sample names, not by the family name.
  EXPECT_EQ(only({"ttft_seconds_count", "ttft_seconds_sum", "llm_d_epp_request_total"}),
            "# HELP llm_d_epp_request_total Requests.\n"
            "# TYPE llm_d_epp_request_total counter\n"
            "llm_d_epp_request_total 3\n"
            "# HELP ttft_seconds TTFT.\n"
            "# TYPE ttft_seconds histogram\n"
            "ttft_seconds_sum 0.5\n"
            "ttft_seconds_count 1\n");
  EXPECT_EQ(only({"ttft_seconds"}), "");
  EXPECT_EQ(only({"unknown", "vllm:num_requests"}), "");
  EXPECT_EQ(only({}), r.expose());  // no name[] at all: everything
}

TEST(RegistryTest, UnlabelledHistogramAndSpecialValues) {
  Registry r;
  auto h = r.histogram("lat", "L.", {1, HUGE_VAL});  // trailing +Inf is dropped
  ASSERT_TRUE(h);
  EXPECT_EQ((*h)->bounds().size(), 1u);
  (*h)->observe(2);
  auto g = r.gauge("g", "G.");
  ASSERT_TRUE(g);
  (*g)->set(-HUGE_VAL);
  EXPECT_EQ(r.expose(),
            "# HELP lat L.\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 0\nlat_bucket{le=\"+Inf\"} 1\n"
            "lat_sum 2\nlat_count 1\n# HELP g G.\n# TYPE g gauge\ng -Inf\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry r;
  auto f = r.gauge_family("info", "Line one\nback\\slash \"quoted\"", {"path"});
  ASSERT_TRUE(f);
  (*f)->with({"C:\\dir\n\"x\""}).set(1);
  EXPECT_EQ(r.expose(),
            "# HELP info Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE info gauge\n"
            "info{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(RegistryTest, DropsHelpBlanksTheFormatCannotCarry) {
  Registry r;
  auto g = r.gauge("g", " \tPadded help\r\r");
  ASSERT_TRUE(g);
  EXPECT_EQ(r.expose(), "# HELP g Padded help\n# TYPE g gauge\ng 0\n");
}

TEST(RegistryTest, FamiliesWithoutSeriesAreNotExposed) {
  Registry r;
  ASSERT_TRUE(r.counter_family("unused_total", "U.", {"a"}));
  EXPECT_EQ(r.expose(), "");
}

TEST(RegistryTest, WithReturnsStableHandles) {
  Registry r;
  auto f = r.counter_family("c_total", "C.", {"k"});
  ASSERT_TRUE(f);
  Counter* first = &(*f)->with({"a"});
  for (int i = 0; i < 1000; ++i) (*f)->with({std::to_string(i)}).inc();
  EXPECT_EQ(&(*f)->with({"a"}), first);
  EXPECT_EQ((*f)->size(), 1001u);
  const std::vector<std::string_view> values = {"a"};
  EXPECT_EQ(&(*f)->with(values), first);
}

TEST(RegistryTest, CardinalityCapRoutesToOverflowSeriesAndCounts) {
  Registry r;
  auto f = r.counter_family("req_total", "R.", {"model", "code"}, FamilyOptions{.max_series = 2});
  ASSERT_TRUE(f);
  Counter& a = (*f)->with({"a", "1"});
  Counter& b = (*f)->with({"b", "1"});
  Counter& c = (*f)->with({"c", "1"});
  Counter& d = (*f)->with({"d", "1"});
  Counter& wrong_arity = (*f)->with({"only-one"});
  EXPECT_NE(&a, &b);
  EXPECT_EQ(&c, &d);
  EXPECT_EQ(&c, &wrong_arity);
  EXPECT_EQ(&(*f)->with({"a", "1"}), &a);  // known label sets still resolve past the cap
  a.inc();
  c.inc(5);
  EXPECT_EQ((*f)->size(), 3u);
  EXPECT_EQ(
      r.expose(),
      "# HELP llmd_metrics_cardinality_overflow_total Label sets refused by a metric family whose label "
      "cardinality cap was reached.\n"
      "# TYPE llmd_metrics_cardinality_overflow_total counter\n"
      "llmd_metrics_cardinality_overflow_total{family=\"req_total\"} 3\n"
      "# HELP req_total R.\n"
      "# TYPE req_total counter\n"
      "req_total{model=\"a\",code=\"1\"} 1\n"
      "req_total{model=\"b\",code=\"1\"} 0\n"
      "req_total{model=\"__overflow__\",code=\"__overflow__\"} 5\n");
}

TEST(RegistryTest, CallbackGaugesAreEvaluatedAtExposition) {
  Registry r;
  double depth = 3;
  ASSERT_TRUE(r.gauge_callback("queue_depth", "Q.", [&] { return depth; }));
  auto f = r.gauge_family("endpoint_load", "E.", {"endpoint"}, FamilyOptions{.max_series = 1});
  ASSERT_TRUE(f);
  ASSERT_TRUE((*f)->with_callback({"10.0.0.1:8000"}, [] { return 0.25; }));
  auto refused = (*f)->with_callback({"10.0.0.2:8000"}, [] { return 1.0; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  ASSERT_TRUE(r.counter_callback("cpu_seconds_total", "CPU.", [] { return 12.5; }));
  depth = 9;
  const std::string text = r.expose();
  EXPECT_NE(text.find("\nqueue_depth 9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nendpoint_load{endpoint=\"10.0.0.1:8000\"} 0.25\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("10.0.0.2"), std::string::npos) << text;
  EXPECT_NE(text.find("\ncpu_seconds_total 12.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("llmd_metrics_cardinality_overflow_total{family=\"endpoint_load\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(RegistryTest, RejectsInvalidRegistrations) {
  Registry r;
  EXPECT_FALSE(r.counter_family("bad-name", "x", {}));
  EXPECT_FALSE(r.counter_family("ok", "x", {"bad-label"}));
  EXPECT_FALSE(r.counter_family("ok", "x", {"__reserved"}));
  EXPECT_FALSE(r.counter_family("ok", "x", {"a", "a"}));
  EXPECT_FALSE(r.counter_family("ok", "x", {"a"}, FamilyOptions{.max_series = 0}));
  EXPECT_FALSE(r.histogram_family("h", "x", {"le"}, {1}));
  EXPECT_FALSE(r.histogram_family("h", "x", {}, {2, 1}));
  EXPECT_FALSE(r.histogram_family("h", "x", {}, {1, 1}));
  EXPECT_FALSE(r.histogram_family("h", "x", {}, {std::nan(""), 1}));
  EXPECT_FALSE(r.histogram_family("h", "x", {}, {-HUGE_VAL, 1}));
  auto bad = r.counter_family("bad-name", "x", {});
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("bad-name"), std::string::npos);
}

TEST(RegistryTest, ReRegistrationReturnsSameFamilyOrFails) {
  Registry r;
  auto a = r.counter_family("c_total", "C.", {"x"});
  auto b = r.counter_family("c_total", "C again.", {"x"});
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(r.counter_family("c_total", "C.", {"y"}));
  EXPECT_FALSE(r.gauge_family("c_total", "C.", {"x"}));
  ASSERT_TRUE(r.histogram_family("lat", "L.", {}, {1, 2}));
  EXPECT_FALSE(r.histogram_family("lat", "L.", {}, {1, 3}));
  EXPECT_FALSE(r.counter_family("lat_sum", "clashes with the histogram's _sum series", {}));
  EXPECT_FALSE(r.counter_family("lat_count", "clashes with the histogram's _count series", {}));
  EXPECT_TRUE(r.histogram_family("c", "c_bucket, c_sum and c_count do not clash with c_total", {}, {1}));
}

TEST(RegistryTest, ConcurrentUpdatesSumExactly) {
  Registry r;
  auto f = r.counter_family("ops_total", "O.", {"k"});
  ASSERT_TRUE(f);
  Counter& whole = (*f)->with({"whole"});
  Counter& frac = (*f)->with({"frac"});
  auto g = r.gauge("inflight", "I.");
  ASSERT_TRUE(g);
  auto h = r.histogram("lat", "L.", {1, 2});
  ASSERT_TRUE(h);
  constexpr int kThreads = 4;
  constexpr int kIters = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        whole.inc();
        frac.add(0.5);  // exactly representable, so the sum is exact in any order
        (*g)->inc();
        (*g)->dec(0.5);
        (*h)->observe(static_cast<double>((i + t) % 3));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(whole.value(), kThreads * kIters);
  EXPECT_EQ(frac.value(), kThreads * kIters * 0.5);
  EXPECT_EQ((*g)->value(), kThreads * kIters * 0.5);
  EXPECT_EQ((*h)->count(), static_cast<uint64_t>(kThreads * kIters));
  uint64_t expected_bucket0 = 0;  // values 0 and 1 land in le=1
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kIters; ++i) expected_bucket0 += ((i + t) % 3) <= 1 ? 1 : 0;
  }
  EXPECT_EQ((*h)->bucket_count(0), expected_bucket0);
  EXPECT_EQ((*h)->bucket_count(2), 0u);
}

TEST(RegistryTest, ConcurrentWithAndIncrementAreSafe) {
  Registry r;
  auto f = r.counter_family("hits_total", "H.", {"k"}, FamilyOptions{.max_series = 50});
  ASSERT_TRUE(f);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) (*f)->with({std::to_string(i)}).inc();
    });
  }
  std::string text;
  for (int i = 0; i < 20; ++i) r.expose_to(text);
  for (auto& th : threads) th.join();
  EXPECT_EQ((*f)->size(), 51u);
  EXPECT_EQ((*f)->with({"7"}).value(), 3.0);
  EXPECT_EQ((*f)->with({"__overflow__"}).value(), 150.0);
}

}  // namespace
}  // namespace llmd::metrics

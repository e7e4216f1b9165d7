#include "loadgen/load.h"

#include <cmath>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

TEST(Load, ConstantArrivalsAreExact) {
  ArrivalProcess a(LoadKind::kConstant, 8.0, Rng(1));
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(a.next_arrival(), i * 0.125);
  // n / rate, not a running sum: no drift after many arrivals.
  ArrivalProcess b(LoadKind::kConstant, 40.0, Rng(1));
  double last = 0;
  for (int i = 0; i <= 80; ++i) last = b.next_arrival();
  EXPECT_EQ(last, 2.0);
}

TEST(Load, PoissonGapsHaveMeanAndVarianceOfAnExponential) {
  ArrivalProcess a(LoadKind::kPoisson, 50.0, Rng(2));
  EXPECT_EQ(a.next_arrival(), 0.0);
  const int n = 200'000;
  double sum = 0, sq = 0, prev = 0;
  for (int i = 0; i < n; ++i) {
    const double t = a.next_arrival();
    const double g = t - prev;
    prev = t;
    ASSERT_GE(g, 0.0);
    sum += g;
    sq += g * g;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.02, 0.0002);
  EXPECT_NEAR(std::sqrt(sq / n - mean * mean), 0.02, 0.0003);  // exponential: sd == mean
}

TEST(Load, SweepRatesLinearAndGeometric) {
  SweepSpec s;
  s.num_stages = 4;
  auto lin = sweep_rates(100, s);
  ASSERT_EQ(lin.size(), 4u);
  EXPECT_DOUBLE_EQ(lin[0], 25);
  EXPECT_DOUBLE_EQ(lin[3], 100);
  s.geometric = true;
  s.num_stages = 3;
  auto geo = sweep_rates(100, s);
  ASSERT_EQ(geo.size(), 3u);
  EXPECT_NEAR(geo[0], 5, 1e-9);
  EXPECT_NEAR(geo[1], 100 * std::sqrt(0.05), 1e-9);
  EXPECT_NEAR(geo[2], 100, 1e-9);
  EXPECT_TRUE(sweep_rates(0, s).empty());
}

TEST(Load, ParsesStageLadders) {
  auto r = parse_stages("2:50,5:50:100,10.5:0:7", LoadKind::kConstant, "load.stages");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].rate, 2);
  EXPECT_EQ((*r)[0].duration_s, 50);
  EXPECT_EQ((*r)[1].num_requests, 100u);
  EXPECT_EQ((*r)[2].rate, 10.5);
  EXPECT_EQ((*r)[2].num_requests, 7u);
  auto c = parse_stages("8:30", LoadKind::kConcurrent, "load.stages");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0].concurrency, 8u);
}

TEST(Load, RejectsBadStages) {
  for (const char* bad :
       {"", "5", "0:10", "5:0", "x:10", "5:10:1.5", "1.5:10", "5:10:2:3", "5:10,", "-1:10"}) {
    auto kind = std::string_view(bad) == "1.5:10" ? LoadKind::kConcurrent : LoadKind::kConstant;
    auto r = parse_stages(bad, kind, "load.stages");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("load.stages"), std::string::npos);
  }
}

TEST(Load, ValidateNamesThePath) {
  LoadSpec spec;
  spec.kind = LoadKind::kConstant;
  spec.stages = {{1, 0, 10, 0}, {0, 0, 10, 0}};
  auto v = spec.validate();
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("load.stages[1]"), std::string::npos);
  spec.stages.pop_back();
  EXPECT_TRUE(spec.validate());
  spec.kind = LoadKind::kSweep;
  spec.sweep.num_stages = 0;
  EXPECT_FALSE(spec.validate());
}

}  // namespace
}  // namespace llmd::loadgen

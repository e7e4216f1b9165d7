#include "loadgen/distribution.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

struct Moments {
  double mean = 0, stddev = 0;
  uint32_t min = UINT32_MAX, max = 0;
};

Moments sample_moments(const LengthDistribution& d, int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> xs;
  Moments m;
  for (int i = 0; i < n; ++i) {
    const uint32_t x = d.sample(rng);
    xs.push_back(x);
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  for (double x : xs) m.mean += x;
  m.mean /= n;
  for (double x : xs) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / n);
  return m;
}

TEST(Distribution, FixedAlwaysReturnsTheValue) {
  const auto m = sample_moments(LengthDistribution::fixed(128), 1000, 1);
  EXPECT_EQ(m.min, 128u);
  EXPECT_EQ(m.max, 128u);
}

TEST(Distribution, UniformHasTheRightMomentsAndBounds) {
  const auto m = sample_moments(LengthDistribution::uniform(100, 300), 200'000, 2);
  EXPECT_EQ(m.min, 100u);
  EXPECT_EQ(m.max, 300u);
  EXPECT_NEAR(m.mean, 200.0, 1.0);
  // Discrete uniform on 201 values: sd = sqrt((201^2 - 1) / 12).
  EXPECT_NEAR(m.stddev, std::sqrt((201.0 * 201.0 - 1) / 12.0), 0.5);
}

TEST(Distribution, NormalHasTheConfiguredMoments) {
  const auto m = sample_moments(LengthDistribution::normal(500, 100, 1, 100'000), 200'000, 3);
  EXPECT_NEAR(m.mean, 500.0, 1.5);
  EXPECT_NEAR(m.stddev, 100.0, 1.5);
}

TEST(Distribution, LognormalHasTheConfiguredMoments) {
  // Mean and sd describe the lengths themselves, not their logarithms.
  const auto m = sample_moments(LengthDistribution::lognormal(500, 200, 1, 1'000'000), 400'000, 4);
  EXPECT_NEAR(m.mean, 500.0, 2.5);
  EXPECT_NEAR(m.stddev, 200.0, 4.0);
}

TEST(Distribution, ClampsToBounds) {
  const auto m = sample_moments(LengthDistribution::normal(100, 1000, 10, 150), 10'000, 5);
  EXPECT_EQ(m.min, 10u);
  EXPECT_EQ(m.max, 150u);
}

TEST(Distribution, SameSeedSameSequence) {
  const auto d = LengthDistribution::lognormal(300, 100);
  Rng a(9), b(9);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(d.sample(a), d.sample(b));
}

TEST(Distribution, ExponentialMeanIsOneOverRate) {
  Rng rng(6);
  double sum = 0;
  const int n = 200'000;
  for (int i = 0; i < n; ++i) sum += exponential(rng, 20.0);
  EXPECT_NEAR(sum / n, 0.05, 0.0005);
}

TEST(Distribution, ParsesEveryForm) {
  auto f = parse_distribution("fixed:128", "x");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, DistributionKind::kFixed);
  EXPECT_EQ(f->mean, 128);
  auto bare = parse_distribution("64", "x");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->mean, 64);
  auto u = parse_distribution("uniform:10,20", "x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, DistributionKind::kUniform);
  EXPECT_EQ(u->min, 10u);
  EXPECT_EQ(u->max, 20u);
  auto n = parse_distribution("normal:512,128,10,1024", "x");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->kind, DistributionKind::kNormal);
  EXPECT_EQ(n->mean, 512);
  EXPECT_EQ(n->stddev, 128);
  EXPECT_EQ(n->max, 1024u);
  auto l = parse_distribution("lognormal:300,50", "x");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kind, DistributionKind::kLognormal);
  // Round trip through to_spec().
  auto again = parse_distribution(n->to_spec(), "x");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->mean, 512);
  EXPECT_EQ(again->min, 10u);
}

TEST(Distribution, RejectsBadSpecsNamingThePath) {
  for (const char* bad : {"", "fixed:", "fixed:-1", "fixed:1.5", "uniform:5", "uniform:9,3", "normal:1",
                          "normal:-5,1", "gamma:1,2", "normal:1,2,3", "fixed:1,", "uniform:1,2,3,4,5"}) {
    auto r = parse_distribution(bad, "workload.random.input");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("workload.random.input"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace llmd::loadgen

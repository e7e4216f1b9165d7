#pragma once
// Length distributions for synthetic workloads (input and output token counts), and the random
// variates the load generator needs (normal, exponential). All draws come from an injected Rng so a
// seed fixes every prompt and every arrival time.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/random.h"

namespace llmd::loadgen {

enum class DistributionKind { kFixed, kUniform, kNormal, kLognormal };

std::string_view to_string(DistributionKind kind);

// A distribution of token counts. `mean` and `stddev` describe the unclamped distribution (for
// lognormal: the mean and standard deviation of the lengths themselves, not of their logarithm).
// Every draw is rounded to the nearest integer and clamped to [min, max].
struct LengthDistribution {
  DistributionKind kind = DistributionKind::kFixed;
  double mean = 0;    // fixed: the value; uniform: (min + max) / 2
  double stddev = 0;  // normal and lognormal
  uint32_t min = 1;
  uint32_t max = 1'000'000;

  static LengthDistribution fixed(uint32_t value);
  static LengthDistribution uniform(uint32_t lo, uint32_t hi);
  static LengthDistribution normal(double mean, double stddev, uint32_t lo = 1, uint32_t hi = 1'000'000);
  static LengthDistribution lognormal(double mean, double stddev, uint32_t lo = 1, uint32_t hi = 1'000'000);

  uint32_t sample(Rng& rng) const;
  // Checks the parameters; `path` names the option in the error message.
  Result<void> validate(std::string_view path) const;
  // "fixed:128", "uniform:64,256", "normal:512,128[,min,max]", "lognormal:512,256[,min,max]".
  std::string to_spec() const;
};

// Parses the to_spec() form. A bare number means fixed. Errors name `path`.
Result<LengthDistribution> parse_distribution(std::string_view spec, std::string_view path);

// A standard normal draw (Box-Muller; one value per call so the stream is simple to reason about).
double standard_normal(Rng& rng);
// An exponential draw with the given rate (> 0): the gap between Poisson arrivals.
double exponential(Rng& rng, double rate);

}  // namespace llmd::loadgen

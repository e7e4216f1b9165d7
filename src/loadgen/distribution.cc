#include "loadgen/distribution.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

#include <fmt/format.h>

namespace llmd::loadgen {

std::string_view to_string(DistributionKind kind) {
  switch (kind) {
    case DistributionKind::kFixed:
      return "fixed";
    case DistributionKind::kUniform:
      return "uniform";
    case DistributionKind::kNormal:
      return "normal";
    case DistributionKind::kLognormal:
      return "lognormal";
  }
  return "fixed";
}

LengthDistribution LengthDistribution::fixed(uint32_t value) {
  return LengthDistribution{DistributionKind::kFixed, static_cast<double>(value), 0, value, value};
}

LengthDistribution LengthDistribution::uniform(uint32_t lo, uint32_t hi) {
  return LengthDistribution{DistributionKind::kUniform, (static_cast<double>(lo) + hi) / 2.0, 0, lo, hi};
}

LengthDistribution LengthDistribution::normal(double mean, double stddev, uint32_t lo, uint32_t hi) {
  return LengthDistribution{DistributionKind::kNormal, mean, stddev, lo, hi};
}

LengthDistribution LengthDistribution::lognormal(double mean, double stddev, uint32_t lo, uint32_t hi) {
  return LengthDistribution{DistributionKind::kLognormal, mean, stddev, lo, hi};
}

double standard_normal(Rng& rng) {
  // 1 - uniform() is in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - rng.uniform();
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double exponential(Rng& rng, double rate) { return -std::log(1.0 - rng.uniform()) / rate; }

uint32_t LengthDistribution::sample(Rng& rng) const {
  double x = mean;
  switch (kind) {
    case DistributionKind::kFixed:
      return static_cast<uint32_t>(std::llround(mean));
    case DistributionKind::kUniform:
      return min + static_cast<uint32_t>(rng.below(static_cast<uint64_t>(max) - min + 1));
    case DistributionKind::kNormal:
      x = mean + stddev * standard_normal(rng);
      break;
    case DistributionKind::kLognormal: {
      // Solve for the log-space parameters that give the requested mean and stddev.
      const double sigma2 = std::log(1.0 + (stddev * stddev) / (mean * mean));
      const double mu = std::log(mean) - sigma2 / 2.0;
      x = std::exp(mu + std::sqrt(sigma2) * standard_normal(rng));
      break;
    }
  }
  const double clamped = std::clamp(std::round(x), static_cast<double>(min), static_cast<double>(max));
  return static_cast<uint32_t>(clamped);
}

Result<void> LengthDistribution::validate(std::string_view path) const {
  if (min > max)
    return make_error(ErrorCode::kConfig, fmt::format("{}: min {} exceeds max {}", path, min, max));
  switch (kind) {
    case DistributionKind::kFixed:
      if (mean < 0 || mean > 1e7)
        return make_error(ErrorCode::kConfig, fmt::format("{}: value out of range", path));
      break;
    case DistributionKind::kUniform:
      break;
    case DistributionKind::kNormal:
    case DistributionKind::kLognormal:
      if (!(mean > 0) || !(stddev >= 0) || !std::isfinite(mean) || !std::isfinite(stddev) || mean > 1e7) {
        return make_error(ErrorCode::kConfig,
                          fmt::format("{}: mean must be positive and stddev non-negative", path));
      }
      break;
  }
  return {};
}

std::string LengthDistribution::to_spec() const {
  switch (kind) {
    case DistributionKind::kFixed:
      return fmt::format("fixed:{}", static_cast<uint64_t>(std::llround(mean)));
    case DistributionKind::kUniform:
      return fmt::format("uniform:{},{}", min, max);
    case DistributionKind::kNormal:
    case DistributionKind::kLognormal:
      return fmt::format("{}:{},{},{},{}", to_string(kind), mean, stddev, min, max);
  }
  return {};
}

namespace {

bool parse_number(std::string_view s, double& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out);
}

bool to_count(double v, uint32_t& out) {
  if (!(v >= 0) || v > 1e7 || v != std::floor(v)) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

Result<LengthDistribution> parse_distribution(std::string_view spec, std::string_view path) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}: {} (got '{}'; expected fixed:N, uniform:MIN,MAX, "
                                  "normal:MEAN,SD[,MIN,MAX] or lognormal:MEAN,SD[,MIN,MAX])",
                                  path, why, spec));
  };
  std::string_view kind_name = "fixed";
  std::string_view args = spec;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    kind_name = spec.substr(0, colon);
    args = spec.substr(colon + 1);
  }
  std::vector<double> nums;
  while (!args.empty() || nums.empty()) {
    const auto comma = args.find(',');
    double v = 0;
    if (!parse_number(args.substr(0, comma), v)) return bad("bad number");
    nums.push_back(v);
    if (nums.size() > 4) return bad("too many numbers");
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 1);
    if (args.empty()) return bad("trailing comma");
  }
  LengthDistribution d;
  if (kind_name == "fixed") {
    uint32_t v = 0;
    if (nums.size() != 1 || !to_count(nums[0], v)) return bad("fixed takes one non-negative integer");
    d = LengthDistribution::fixed(v);
  } else if (kind_name == "uniform") {
    uint32_t lo = 0, hi = 0;
    if (nums.size() != 2 || !to_count(nums[0], lo) || !to_count(nums[1], hi)) {
      return bad("uniform takes two non-negative integers");
    }
    d = LengthDistribution::uniform(lo, hi);
  } else if (kind_name == "normal" || kind_name == "lognormal") {
    if (nums.size() != 2 && nums.size() != 4) return bad("expected MEAN,SD or MEAN,SD,MIN,MAX");
    d.kind = kind_name == "normal" ? DistributionKind::kNormal : DistributionKind::kLognormal;
    d.mean = nums[0];
    d.stddev = nums[1];
    if (nums.size() == 4 && (!to_count(nums[2], d.min) || !to_count(nums[3], d.max))) {
      return bad("MIN and MAX must be non-negative integers");
    }
  } else {
    return bad("unknown distribution");
  }
  if (auto v = d.validate(path); !v) return v.error();
  return d;
}

}  // namespace llmd::loadgen

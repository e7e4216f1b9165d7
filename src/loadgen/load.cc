#include "loadgen/load.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "loadgen/distribution.h"

namespace llmd::loadgen {

std::string_view to_string(LoadKind kind) {
  switch (kind) {
    case LoadKind::kConstant:
      return "constant";
    case LoadKind::kPoisson:
      return "poisson";
    case LoadKind::kConcurrent:
      return "concurrent";
    case LoadKind::kSweep:
      return "sweep";
  }
  return "constant";
}

Result<LoadKind> parse_load_kind(std::string_view name) {
  for (auto k : {LoadKind::kConstant, LoadKind::kPoisson, LoadKind::kConcurrent, LoadKind::kSweep}) {
    if (name == to_string(k)) return k;
  }
  return make_error(
      ErrorCode::kConfig,
      fmt::format("load.type: unknown '{}' (expected constant, poisson, concurrent or sweep)", name));
}

namespace {

Result<void> validate_stage(const Stage& s, bool concurrent, const std::string& path) {
  auto bad = [&](std::string_view m) {
    return make_error(ErrorCode::kConfig, fmt::format("{}: {}", path, m));
  };
  if (concurrent) {
    if (s.concurrency == 0) return bad("concurrency must be at least 1");
    if (s.concurrency > 100'000) return bad("concurrency must be at most 100000");
  } else if (!(s.rate > 0) || !std::isfinite(s.rate) || s.rate > 10'000'000) {
    return bad("rate must be positive requests/s");
  }
  if (!(s.duration_s >= 0) || !std::isfinite(s.duration_s))
    return bad("duration must be non-negative seconds");
  if (s.duration_s == 0 && s.num_requests == 0) return bad("needs a duration or a request count");
  return {};
}

}  // namespace

Result<void> LoadSpec::validate() const {
  const bool concurrent = kind == LoadKind::kConcurrent;
  if (kind == LoadKind::kSweep) {
    if (sweep.num_stages == 0 || sweep.num_stages > 1000) {
      return make_error(ErrorCode::kConfig, "load.sweep.num_stages: must be in [1, 1000]");
    }
    if (!(sweep.stage_duration_s > 0)) {
      return make_error(ErrorCode::kConfig, "load.sweep.stage_duration: must be positive");
    }
    if (sweep.probe_concurrency == 0 || !(sweep.probe_duration_s > 0)) {
      return make_error(ErrorCode::kConfig, "load.sweep: probe concurrency and duration must be positive");
    }
    if (sweep.arrivals != LoadKind::kConstant && sweep.arrivals != LoadKind::kPoisson) {
      return make_error(ErrorCode::kConfig, "load.sweep.arrivals: must be constant or poisson");
    }
  } else {
    if (stages.empty()) return make_error(ErrorCode::kConfig, "load.stages: at least one stage is required");
    for (size_t i = 0; i < stages.size(); ++i) {
      if (auto v = validate_stage(stages[i], concurrent, fmt::format("load.stages[{}]", i)); !v) return v;
    }
  }
  if (warmup) {
    const bool warm_concurrent = kind == LoadKind::kConcurrent;
    if (auto v = validate_stage(*warmup, warm_concurrent, "load.warmup"); !v) return v;
  }
  return {};
}

std::vector<double> sweep_rates(double saturation_rate, const SweepSpec& sweep) {
  std::vector<double> rates;
  const uint32_t n = sweep.num_stages;
  if (!(saturation_rate > 0) || n == 0) return rates;
  for (uint32_t i = 1; i <= n; ++i) {
    if (sweep.geometric && n > 1) {
      const double exponent = static_cast<double>(n - i) / static_cast<double>(n - 1);
      rates.push_back(saturation_rate * std::pow(0.05, exponent));
    } else {
      rates.push_back(saturation_rate * static_cast<double>(i) / static_cast<double>(n));
    }
  }
  return rates;
}

double ArrivalProcess::next_arrival() {
  if (kind_ != LoadKind::kPoisson) return static_cast<double>(n_++) / rate_;
  const double t = t_;
  t_ += exponential(rng_, rate_);
  return t;
}

Result<std::vector<Stage>> parse_stages(std::string_view spec, LoadKind kind, std::string_view path) {
  std::vector<Stage> out;
  auto bad = [&](size_t i, std::string_view why) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}[{}]: {} (expected {}:SECONDS[:COUNT] items separated "
                                  "by commas)",
                                  path, i, why, kind == LoadKind::kConcurrent ? "CONCURRENCY" : "RATE"));
  };
  size_t index = 0;
  while (!spec.empty()) {
    const auto comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (comma != std::string_view::npos && spec.empty()) return bad(index + 1, "trailing comma");
    double nums[3] = {0, 0, 0};
    int count = 0;
    while (true) {
      const auto colon = item.find(':');
      std::string_view part = item.substr(0, colon);
      if (count == 3) return bad(index, "too many fields");
      auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), nums[count]);
      if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() ||
          !std::isfinite(nums[count])) {
        return bad(index, "bad number");
      }
      ++count;
      if (colon == std::string_view::npos) break;
      item.remove_prefix(colon + 1);
    }
    if (count < 2) return bad(index, "missing duration");
    Stage s;
    if (kind == LoadKind::kConcurrent) {
      if (nums[0] < 1 || nums[0] > 100'000 || nums[0] != std::floor(nums[0]))
        return bad(index, "bad concurrency");
      s.concurrency = static_cast<uint32_t>(nums[0]);
    } else {
      s.rate = nums[0];
    }
    s.duration_s = nums[1];
    if (count == 3) {
      if (nums[2] < 0 || nums[2] > 1e12 || nums[2] != std::floor(nums[2])) return bad(index, "bad count");
      s.num_requests = static_cast<uint64_t>(nums[2]);
    }
    if (auto v = validate_stage(s, kind == LoadKind::kConcurrent, fmt::format("{}[{}]", path, index)); !v) {
      return v.error();
    }
    out.push_back(s);
    ++index;
  }
  if (out.empty()) return bad(0, "no stages");
  return out;
}

}  // namespace llmd::loadgen

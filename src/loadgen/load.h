#pragma once
// Load shapes: when requests are sent. Rate stages (constant or Poisson arrivals) are open loop;
// concurrency stages are closed loop (N requests always in flight). A plan is a warm-up stage plus
// a list of stages; a sweep first probes saturation at high concurrency and then derives a ladder
// of rates up to the saturation rate.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/random.h"

namespace llmd::loadgen {

enum class LoadKind { kConstant, kPoisson, kConcurrent, kSweep };

std::string_view to_string(LoadKind kind);
Result<LoadKind> parse_load_kind(std::string_view name);

// One stage. Rate stages use `rate`; concurrent stages use `concurrency`. A stage ends when
// `duration_s` has passed or `num_requests` were sent, whichever comes first (0 means no limit on
// that axis; at least one must be set).
struct Stage {
  double rate = 0;
  uint32_t concurrency = 0;
  double duration_s = 0;
  uint64_t num_requests = 0;
};

struct SweepSpec {
  uint32_t num_stages = 5;
  double stage_duration_s = 30;
  bool geometric = false;  // linear: sat*i/n; geometric: from 5 % of sat up to sat
  uint32_t probe_concurrency = 256;
  double probe_duration_s = 15;
  LoadKind arrivals = LoadKind::kPoisson;  // arrivals of the derived rate stages
};

struct LoadSpec {
  LoadKind kind = LoadKind::kConstant;
  std::vector<Stage> stages;
  std::optional<Stage> warmup;  // run first with the same arrival kind; excluded from results
  SweepSpec sweep;

  Result<void> validate() const;
};

// The rates of a sweep's ladder given the measured saturation rate (req/s).
std::vector<double> sweep_rates(double saturation_rate, const SweepSpec& sweep);

// Arrival times of an open-loop stage: every 1/rate for constant, exponential gaps for Poisson.
class ArrivalProcess {
 public:
  ArrivalProcess(LoadKind kind, double rate, Rng rng) : kind_(kind), rate_(rate), rng_(rng) {}
  // Seconds from the stage start to the next arrival; the first is at 0. Constant arrivals are
  // computed as n/rate, not summed, so a stage of d seconds holds exactly d*rate of them.
  double next_arrival();

 private:
  LoadKind kind_;
  double rate_;
  Rng rng_;
  uint64_t n_ = 0;
  double t_ = 0;
};

// Parses "RATE:DURATION[:COUNT]" ladders like "2:50,5:50,10:50" (rate stages) or, for concurrent
// loads, "CONCURRENCY:DURATION[:COUNT]". Errors name `path`.
Result<std::vector<Stage>> parse_stages(std::string_view spec, LoadKind kind, std::string_view path);

}  // namespace llmd::loadgen

#pragma once
// Helpers for scheduler unit tests: a store filled with endpoints and a SchedulingContext over it, so
// plugin tests can call filter/score/pick directly, without the registry or the engine.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/random.h"
#include "sched/cycle_state.h"
#include "sched/endpoint.h"
#include "sched/plugin.h"
#include "sched/request.h"

namespace llmd::sched::testing {

struct TestEndpoint {
  std::string id;
  EndpointMetrics metrics;
  Labels labels;
};

// Ids "ns/pod<i>-rank-0", addresses 10.0.0.<i+1>:8000, in that (sorted) order for i < 10.
inline std::vector<TestEndpoint> endpoints(size_t n) {
  std::vector<TestEndpoint> out(n);
  for (size_t i = 0; i < n; ++i) out[i].id = make_endpoint_id("ns", "pod" + std::to_string(i), 0);
  return out;
}

inline void fill_store(EndpointStore& store, const std::vector<TestEndpoint>& eps) {
  std::vector<EndpointSpec> specs;
  for (size_t i = 0; i < eps.size(); ++i) {
    specs.push_back(EndpointSpec{eps[i].id,
                                 "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 8000,
                                 eps[i].labels});
  }
  (void)store.replace_all(std::move(specs));
  for (const auto& e : eps) store.update_metrics(e.id, e.metrics);
}

// One scheduling cycle over a fixed set of endpoints.
class Cycle {
 public:
  explicit Cycle(const std::vector<TestEndpoint>& eps, LLMRequest request = {}, uint64_t seed = 1)
      : request_(std::move(request)), rng_(seed) {
    fill_store(store_, eps);
    snapshot_ = store_.snapshot();
    // Candidates in the order given (the snapshot is sorted by id).
    for (const auto& e : eps) {
      const Endpoint* ep = snapshot_->find(e.id);
      candidates_.push_back(Candidate{static_cast<uint32_t>(candidates_.size()), ep});
    }
    ctx_ = std::make_unique<SchedulingContext>(
        SchedulingContext{request_, *snapshot_, candidates_, *state_, rng_, clock_});
  }

  // A successful result: one profile run per (profile, endpoint id); the first is primary.
  SchedulingResult result(const std::vector<std::pair<std::string, std::string>>& runs) {
    SchedulingResult r;
    r.snapshot = snapshot_;
    r.state = state_;
    for (const auto& [profile, id] : runs) {
      ProfileRun run;
      run.profile = profile;
      run.ok = true;
      for (const auto& e : snapshot_->endpoints) {
        if (e->id == id) run.targets.push_back(ScoredEndpoint{e, 1.0});
      }
      r.profile_results.push_back(std::move(run));
    }
    if (!runs.empty()) r.primary_profile = runs.front().first;
    return r;
  }

  SchedulingContext& ctx() { return *ctx_; }
  CycleState& state() { return *state_; }
  const std::vector<Candidate>& candidates() const { return candidates_; }
  EndpointStore& store() { return store_; }
  ManualClock& clock() { return clock_; }

  std::vector<double> score(const Scorer& s) {
    std::vector<double> out(candidates_.size(), 0.0);
    s.score(*ctx_, candidates_, out);
    return out;
  }

  std::vector<std::string> filter(const Filter& f) {
    CandidateList c = candidates_;
    f.filter(*ctx_, c);
    std::vector<std::string> ids;
    for (const auto& x : c) ids.push_back(x.endpoint->id);
    return ids;
  }

 private:
  EndpointStore store_;
  SnapshotPtr snapshot_;
  std::vector<Candidate> candidates_;
  LLMRequest request_;
  std::shared_ptr<CycleState> state_ = std::make_shared<CycleState>();
  Rng rng_;
  ManualClock clock_;
  std::unique_ptr<SchedulingContext> ctx_;
};

inline EndpointMetrics queue(int64_t waiting) {
  EndpointMetrics m;
  m.waiting_queue_size = waiting;
  return m;
}

// A plugin's parameter checks: `make` builds the plugin from parameters in YAML; each case's parameters must
// fail with kConfig and a message containing its text (the path and problem).
using MakePlugin = std::function<Result<std::shared_ptr<Plugin>>(std::string_view yaml)>;
inline void expect_parameter_errors(const MakePlugin& make,
                                    std::span<const std::pair<const char*, const char*>> cases) {
  for (const auto& [yaml, want] : cases) {
    auto p = make(yaml);
    ASSERT_FALSE(p) << yaml;
    EXPECT_EQ(p.error().code, ErrorCode::kConfig) << yaml;
    EXPECT_NE(p.error().message.find(want), std::string::npos)
        << "want: " << want << "\ngot:  " << p.error().message;
  }
}

}  // namespace llmd::sched::testing

#pragma once
// The scheduling engine: locate candidates, run data producers, loop over profiles as the profile
// handler directs (filters → weighted scorers → picker), let the handler build the SchedulingResult,
// then run PreRequest plugins, as GIE's scheduler does. It knows plugins only through the interfaces
// in plugin.h. Thread-safe: any number of request threads may call schedule() and the response
// hooks concurrently, each with its own Rng.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sched/data_plane.h"
#include "sched/plugin.h"

namespace llmd::sched {

// `step`: the timing step the Scheduler numbered this call site with (see TimedStep).
template <class I>
struct Bound {
  const Plugin* plugin = nullptr;
  const I* impl = nullptr;
  uint32_t step = 0;
};

struct WeightedScorer {
  const Plugin* plugin = nullptr;
  const Scorer* impl = nullptr;
  double weight = 1.0;
  uint32_t step = 0;
};

struct ProfilePlan {
  std::string name;
  std::vector<Bound<Filter>> filters;  // in configured order
  std::vector<WeightedScorer> scorers;
  Bound<Picker> picker;
};

// A validated, instantiated configuration: what build_scheduler_plan() (picker_config.h) produces.
struct SchedulerPlan {
  std::vector<std::shared_ptr<Plugin>> plugins;  // owns every instance, configured ones first
  std::vector<ProfilePlan> profiles;
  Bound<ProfileHandler> handler;
  std::vector<Bound<DataProducer>> producers;  // dependency-ordered
  std::vector<Bound<PreRequest>> pre_request;
  std::vector<Bound<ResponseHooks>> response_hooks;
  std::map<std::string, bool, std::less<>> feature_gates;
  DataPlanePlan data_plane;  // what the dataLayer and requestHandler sections ask of the data plane

  const Plugin* find_plugin(std::string_view name) const;
};

// A timed call site: one plugin at one extension point ("ProducePlugin", "Filter", "Scorer", "Picker",
// "ProfileHandler", "PreRequest"). A plugin used by several profiles at the same point is one step.
struct TimedStep {
  std::string_view extension_point;
  const Plugin* plugin = nullptr;
};

// Optional timing sink (plugin_duration_seconds, scheduler_e2e_duration_seconds). When none is set the
// scheduler does not read the clock at all.
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  // Called once, by the Scheduler's constructor, with every step it times: an observer resolves its
  // series here, so that a duration costs no lookup.
  virtual void bind_steps(std::span<const TimedStep> steps) = 0;
  // `step` indexes the list bind_steps() was given.
  virtual void on_plugin_duration(uint32_t step, Nanos d) = 0;
  virtual void on_schedule(Nanos d, bool ok) = 0;
  // Every candidate's weighted total in one profile, before the picker runs (debug views such as the
  // router's /debug/endpoints). Scores are only valid during the call.
  virtual void on_scores(std::string_view /*profile*/, std::span<const ScoredCandidate> /*scored*/) {}
};

class Scheduler {
 public:
  Scheduler(SchedulerPlan plan, const EndpointStore& store, const Clock& clock,
            SchedulerObserver* observer = nullptr);

  // Picks endpoints for one request. Errors: kUnavailable (no endpoint; 503), kResourceExhausted
  // (a filter left nothing; 429 with x-llm-d-request-dropped-reason: rejected-saturated), kInternal.
  Result<SchedulingResult> schedule(const LLMRequest& request, Rng& rng) const;
  // As above, restricted to the endpoints whose host:port is in `subset` (the data plane's subset hint).
  Result<SchedulingResult> schedule(const LLMRequest& request, Rng& rng,
                                    std::span<const std::string> subset) const;

  void response_received(const LLMRequest& request, const SchedulingResult& result,
                         HeaderList& response_headers) const;
  void response_streaming(const LLMRequest& request, const SchedulingResult& result,
                          const ResponseChunk& chunk) const;
  void response_complete(const LLMRequest& request, const SchedulingResult& result,
                         const ResponseCompletion& completion) const;

  const SchedulerPlan& plan() const { return plan_; }

 private:
  Result<SchedulingResult> run(const LLMRequest& request, Rng& rng, std::span<const std::string> subset,
                               bool use_subset) const;
  // `lap`: where the next plugin timing starts (see PluginTimer).
  ProfileRun run_profile(const ProfilePlan& profile, const SchedulingContext& ctx, Nanos& lap) const;
  const ProfilePlan* find_profile(std::string_view name) const;

  // Numbers every call site's step (Bound::step) and tells the observer.
  void number_steps();

  SchedulerPlan plan_;
  std::vector<std::string> profile_names_;
  const EndpointStore& store_;
  const Clock& clock_;
  SchedulerObserver* observer_;
};

}  // namespace llmd::sched

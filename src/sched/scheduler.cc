#include "sched/scheduler.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace llmd::sched {

std::string_view to_string(ScorerCategory c) {
  switch (c) {
    case ScorerCategory::kAffinity:
      return "affinity";
    case ScorerCategory::kDistribution:
      return "distribution";
    case ScorerCategory::kBalance:
      return "balance";
  }
  return "unknown";
}

const ProfileRun* SchedulingResult::find(std::string_view profile) const {
  for (const auto& r : profile_results) {
    if (r.profile == profile) return &r;
  }
  return nullptr;
}

const ScoredEndpoint* SchedulingResult::primary_target() const {
  const ProfileRun* p = primary();
  if (p == nullptr || !p->ok || p->targets.empty()) return nullptr;
  return &p->targets.front();
}

const Endpoint* SchedulingResult::primary_endpoint() const {
  const ScoredEndpoint* t = primary_target();
  return t == nullptr ? nullptr : t->endpoint.get();
}

const Plugin* SchedulerPlan::find_plugin(std::string_view name) const {
  for (const auto& p : plugins) {
    if (p->typed_name().name == name) return p.get();
  }
  return nullptr;
}

namespace {

// Times one plugin call only when someone listens. Lap timing: a call starts where the previous
// timed step ended (`lap`), so consecutive plugins share one clock read instead of two each; the
// scheduler restarts the lap after any bookkeeping of its own that is worth more than a few ns.
class PluginTimer {
 public:
  PluginTimer(SchedulerObserver* obs, const Clock& clock, Nanos& lap, uint32_t step)
      : obs_(obs), clock_(clock), lap_(lap), step_(step) {}
  ~PluginTimer() {
    if (obs_ == nullptr) return;
    const Nanos now = clock_.now();
    obs_->on_plugin_duration(step_, now - lap_);
    lap_ = now;
  }
  PluginTimer(const PluginTimer&) = delete;
  PluginTimer& operator=(const PluginTimer&) = delete;

 private:
  SchedulerObserver* obs_;
  const Clock& clock_;
  Nanos& lap_;
  uint32_t step_;
};

double clamp_score(double v) {
  if (!(v > 0.0)) return 0.0;  // also maps NaN to 0
  return v > 1.0 ? 1.0 : v;
}

}  // namespace

Scheduler::Scheduler(SchedulerPlan plan, const EndpointStore& store, const Clock& clock,
                     SchedulerObserver* observer)
    : plan_(std::move(plan)), store_(store), clock_(clock), observer_(observer) {
  for (const auto& p : plan_.profiles) profile_names_.push_back(p.name);
  number_steps();
}

void Scheduler::number_steps() {
  std::vector<TimedStep> steps;
  auto number = [&](std::string_view point, const Plugin* plugin, uint32_t& step) {
    for (size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].plugin == plugin && steps[i].extension_point == point) {
        step = static_cast<uint32_t>(i);
        return;
      }
    }
    step = static_cast<uint32_t>(steps.size());
    steps.push_back(TimedStep{point, plugin});
  };
  for (auto& p : plan_.producers) number("ProducePlugin", p.plugin, p.step);
  number("ProfileHandler", plan_.handler.plugin, plan_.handler.step);
  for (auto& prof : plan_.profiles) {
    for (auto& f : prof.filters) number("Filter", f.plugin, f.step);
    for (auto& sc : prof.scorers) number("Scorer", sc.plugin, sc.step);
    number("Picker", prof.picker.plugin, prof.picker.step);
  }
  for (auto& p : plan_.pre_request) number("PreRequest", p.plugin, p.step);
  if (observer_ != nullptr) observer_->bind_steps(steps);
}

const ProfilePlan* Scheduler::find_profile(std::string_view name) const {
  for (const auto& p : plan_.profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<SchedulingResult> Scheduler::schedule(const LLMRequest& request, Rng& rng) const {
  return run(request, rng, {}, false);
}

Result<SchedulingResult> Scheduler::schedule(const LLMRequest& request, Rng& rng,
                                             std::span<const std::string> subset) const {
  return run(request, rng, subset, true);
}

Result<SchedulingResult> Scheduler::run(const LLMRequest& request, Rng& rng,
                                        std::span<const std::string> subset, bool use_subset) const {
  const Nanos start = observer_ != nullptr ? clock_.now() : Nanos{0};
  auto finish = [&](Result<SchedulingResult> r) {
    if (observer_ != nullptr) observer_->on_schedule(clock_.now() - start, r.has_value());
    return r;
  };

  SchedulingResult result;
  result.snapshot = store_.snapshot();
  const EndpointSnapshot& snap = *result.snapshot;

  std::vector<Candidate> candidates;
  candidates.reserve(snap.endpoints.size());
  for (const auto& e : snap.endpoints) {
    if (use_subset && std::find(subset.begin(), subset.end(), e->host_port) == subset.end()) continue;
    candidates.push_back(Candidate{static_cast<uint32_t>(candidates.size()), e.get()});
  }
  if (candidates.empty()) {
    return finish(make_error(ErrorCode::kUnavailable, use_subset
                                                          ? "no endpoint in the subset hint is available"
                                                          : "no endpoints available"));
  }

  result.state = std::make_shared<CycleState>();
  SchedulingContext ctx{request, snap, candidates, *result.state, rng, clock_};
  Nanos lap = observer_ != nullptr ? clock_.now() : Nanos{0};

  for (const auto& p : plan_.producers) {
    PluginTimer t(observer_, clock_, lap, p.step);
    p.impl->produce(ctx);
  }

  // The handler decides which profiles run; a well-behaved one never repeats a profile, so more rounds
  // than profiles means a bug rather than a long decision.
  const size_t max_rounds = plan_.profiles.size() + 1;
  for (size_t round = 0;; ++round) {
    std::vector<std::string> next;
    {
      PluginTimer t(observer_, clock_, lap, plan_.handler.step);
      next = plan_.handler.impl->pick(ctx, profile_names_, result.profile_results);
    }
    if (next.empty()) break;
    if (round == max_rounds) {
      return finish(make_error(ErrorCode::kInternal, "profile handler did not terminate"));
    }
    for (const auto& name : next) {
      const ProfilePlan* profile = find_profile(name);
      if (profile == nullptr) {
        return finish(
            make_error(ErrorCode::kInternal, fmt::format("profile handler picked unknown profile {}", name)));
      }
      result.profile_results.push_back(run_profile(*profile, ctx, lap));
    }
  }
  if (result.profile_results.empty()) {
    return finish(make_error(ErrorCode::kInternal, "profile handler ran no profile"));
  }
  {
    PluginTimer t(observer_, clock_, lap, plan_.handler.step);
    if (auto r = plan_.handler.impl->process_results(ctx, result); !r) return finish(r.error());
  }
  for (const auto& p : plan_.pre_request) {
    PluginTimer t(observer_, clock_, lap, p.step);
    p.impl->pre_request(ctx, result);
  }
  return finish(std::move(result));
}

ProfileRun Scheduler::run_profile(const ProfilePlan& profile, const SchedulingContext& ctx,
                                  Nanos& lap) const {
  ProfileRun run;
  run.profile = profile.name;
  CandidateList cands(ctx.candidates.begin(), ctx.candidates.end());
  for (const auto& f : profile.filters) {
    {
      PluginTimer t(observer_, clock_, lap, f.step);
      f.impl->filter(ctx, cands);
    }
    if (cands.empty()) {
      run.error = make_error(
          ErrorCode::kResourceExhausted,
          fmt::format("profile {}: filter {} left no endpoints", profile.name, f.plugin->typed_name().name));
      return run;
    }
  }

  const size_t n = cands.size();
  std::vector<double> total(n, 0.0);
  std::vector<double> one(n, 0.0);
  for (const auto& s : profile.scorers) {
    std::fill(one.begin(), one.end(), 0.0);
    {
      PluginTimer t(observer_, clock_, lap, s.step);
      s.impl->score(ctx, cands, one);
    }
    for (size_t i = 0; i < n; ++i) total[i] += s.weight * clamp_score(one[i]);
  }

  std::vector<ScoredCandidate> scored(n);
  for (size_t i = 0; i < n; ++i) scored[i] = ScoredCandidate{cands[i], total[i]};
  if (observer_ != nullptr) {
    observer_->on_scores(profile.name, scored);
    lap = clock_.now();
  }
  if (ctx.request.keep_scores) run.scored = scored;
  std::vector<ScoredCandidate> picked;
  {
    PluginTimer t(observer_, clock_, lap, profile.picker.step);
    profile.picker.impl->pick(ctx, scored, picked);
  }
  if (picked.empty()) {
    run.error = make_error(ErrorCode::kResourceExhausted,
                           fmt::format("profile {}: picker {} chose no endpoint", profile.name,
                                       profile.picker.plugin->typed_name().name));
    return run;
  }
  // The result shares ownership of the snapshot, so aliasing pointers keep each endpoint alive.
  run.targets.reserve(picked.size());
  for (const auto& p : picked) {
    const Endpoint* e = p.candidate.endpoint;
    const EndpointPtr* owner = nullptr;
    auto it = std::lower_bound(ctx.snapshot.endpoints.begin(), ctx.snapshot.endpoints.end(), e->id,
                               [](const EndpointPtr& x, const std::string& id) { return x->id < id; });
    if (it != ctx.snapshot.endpoints.end() && it->get() == e) owner = &*it;
    run.targets.push_back(
        ScoredEndpoint{owner != nullptr ? *owner : EndpointPtr{}, p.score, p.candidate.index});
  }
  run.ok = true;
  return run;
}

void Scheduler::response_received(const LLMRequest& request, const SchedulingResult& result,
                                  HeaderList& response_headers) const {
  for (const auto& h : plan_.response_hooks) h.impl->on_response_received(request, result, response_headers);
}

void Scheduler::response_streaming(const LLMRequest& request, const SchedulingResult& result,
                                   const ResponseChunk& chunk) const {
  for (const auto& h : plan_.response_hooks) h.impl->on_response_streaming(request, result, chunk);
}

void Scheduler::response_complete(const LLMRequest& request, const SchedulingResult& result,
                                  const ResponseCompletion& completion) const {
  for (const auto& h : plan_.response_hooks) h.impl->on_response_complete(request, result, completion);
}

}  // namespace llmd::sched

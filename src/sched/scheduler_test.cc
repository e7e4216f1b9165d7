#include "sched/scheduler.h"

#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"
#include "sched/plugins/max-score-picker/max_score_picker.h"
#include "sched/plugins/single-profile-handler/single_profile_handler.h"
#include "sched/test_support.h"

namespace llmd::sched {
namespace {

// A scorer returning fixed values by candidate position, out-of-range ones included.
class FixedScorer final : public Plugin, public Scorer {
 public:
  FixedScorer(std::string name, std::vector<double> v)
      : Plugin({"fixed", std::move(name)}), v_(std::move(v)) {}
  ScorerCategory category() const override { return ScorerCategory::kBalance; }
  void score(const SchedulingContext&, std::span<const Candidate> c, std::span<double> out) const override {
    for (size_t i = 0; i < c.size(); ++i) out[i] = v_[c[i].index];
  }

 private:
  std::vector<double> v_;
};

class DropAll final : public Plugin, public Filter {
 public:
  DropAll() : Plugin({"drop-all", "drop-all"}) {}
  void filter(const SchedulingContext&, CandidateList& c) const override { c.clear(); }
};

// Runs "prefill" then "decode"; decode is primary.
class TwoStageHandler final : public Plugin, public ProfileHandler {
 public:
  TwoStageHandler() : Plugin({"two-stage", "two-stage"}) {}
  std::vector<std::string> pick(const SchedulingContext&, std::span<const std::string>,
                                std::span<const ProfileRun> results) const override {
    if (results.empty()) return {"prefill"};
    if (results.size() == 1) return {"decode"};
    return {};
  }
  Result<void> process_results(const SchedulingContext&, SchedulingResult& r) const override {
    const ProfileRun* d = r.find("decode");
    if (d == nullptr || !d->ok)
      return make_error(ErrorCode::kUnavailable, "failed to find available decode workers");
    r.primary_profile = "decode";
    return {};
  }
};

struct Fixture {
  EndpointStore store;
  ManualClock clock;
  SchedulerPlan plan;
  std::shared_ptr<Plugin> picker = std::make_shared<plugins::MaxScorePicker>(
      TypedName{"max-score-picker", "max-score-picker"}, plugins::MaxScorePickerParams{});
  std::shared_ptr<Plugin> handler =
      std::make_shared<plugins::SingleProfileHandler>(TypedName{"single-profile-handler", "h"});

  explicit Fixture(size_t n) {
    testing::fill_store(store, testing::endpoints(n));
    plan.plugins = {picker, handler};
    plan.handler = Bound<ProfileHandler>{handler.get(), dynamic_cast<const ProfileHandler*>(handler.get())};
  }
  ProfilePlan& profile(std::string name) {
    ProfilePlan p;
    p.name = std::move(name);
    p.picker = Bound<Picker>{picker.get(), dynamic_cast<const Picker*>(picker.get())};
    plan.profiles.push_back(std::move(p));
    return plan.profiles.back();
  }
  void add_scorer(ProfilePlan& p, std::shared_ptr<Plugin> s, double w) {
    plan.plugins.push_back(s);
    p.scorers.push_back(WeightedScorer{s.get(), dynamic_cast<const Scorer*>(s.get()), w});
  }
};

TEST(SchedulerTest, WeightedSumOfClampedScores) {
  Fixture f(3);
  auto& p = f.profile("default");
  // Candidate 0: 2·1 + 3·0 = 2; candidate 1: 2·0.5 + 3·0.4 = 2.2; candidate 2: 2·0 + 3·1 = 3 (clamped).
  f.add_scorer(p, std::make_shared<FixedScorer>("a", std::vector<double>{1.7, 0.5, -0.3}), 2.0);
  f.add_scorer(p, std::make_shared<FixedScorer>("b", std::vector<double>{std::nan(""), 0.4, 5.0}), 3.0);
  Scheduler s(std::move(f.plan), f.store, f.clock);
  Rng rng(1);
  auto r = s.schedule(LLMRequest{}, rng);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->primary_profile, "default");
  ASSERT_EQ(r->primary()->targets.size(), 1u);
  EXPECT_EQ(r->primary_endpoint()->id, "ns/pod2-rank-0");
  EXPECT_DOUBLE_EQ(r->primary()->targets[0].score, 3.0);
}

TEST(SchedulerTest, FallbackListIsBestFirst) {
  Fixture f(3);
  f.picker = std::make_shared<plugins::MaxScorePicker>(TypedName{"max-score-picker", "m"},
                                                       plugins::MaxScorePickerParams{3});
  f.plan.plugins.push_back(f.picker);
  auto& p = f.profile("default");
  f.add_scorer(p, std::make_shared<FixedScorer>("a", std::vector<double>{0.2, 0.9, 0.5}), 1.0);
  Scheduler s(std::move(f.plan), f.store, f.clock);
  Rng rng(1);
  auto r = s.schedule(LLMRequest{}, rng);
  ASSERT_TRUE(r);
  std::vector<std::string> ids;
  for (const auto& t : r->primary()->targets) ids.push_back(t.endpoint->id);
  EXPECT_EQ(ids, (std::vector<std::string>{"ns/pod1-rank-0", "ns/pod2-rank-0", "ns/pod0-rank-0"}));
}

TEST(SchedulerTest, ErrorsCarryTheirCodes) {
  {
    EndpointStore empty;
    Fixture f(0);
    f.profile("default");
    Scheduler s(std::move(f.plan), empty, f.clock);
    Rng rng(1);
    auto r = s.schedule(LLMRequest{}, rng);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  }
  {
    Fixture f(2);
    auto& p = f.profile("default");
    auto drop = std::make_shared<DropAll>();
    f.plan.plugins.push_back(drop);
    p.filters.push_back(Bound<Filter>{drop.get(), drop.get()});
    Scheduler s(std::move(f.plan), f.store, f.clock);
    Rng rng(1);
    auto r = s.schedule(LLMRequest{}, rng);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
    EXPECT_NE(r.error().message.find("filter drop-all left no endpoints"), std::string::npos);
  }
}

TEST(SchedulerTest, SubsetHintRestrictsCandidates) {
  Fixture f(3);
  auto& p = f.profile("default");
  f.add_scorer(p, std::make_shared<FixedScorer>("a", std::vector<double>{0.0, 0.1, 1.0}), 1.0);
  Scheduler s(std::move(f.plan), f.store, f.clock);
  Rng rng(1);
  const std::vector<std::string> subset = {"10.0.0.1:8000", "10.0.0.2:8000"};
  auto r = s.schedule(LLMRequest{}, rng, subset);
  ASSERT_TRUE(r);
  // Candidate positions follow the subset, so the fixed scores apply to pod0 and pod1 only.
  EXPECT_EQ(r->primary_endpoint()->id, "ns/pod1-rank-0");
  const std::vector<std::string> none = {"10.9.9.9:1"};
  auto miss = s.schedule(LLMRequest{}, rng, none);
  ASSERT_FALSE(miss);
  EXPECT_EQ(miss.error().code, ErrorCode::kUnavailable);
}

TEST(SchedulerTest, ProfileLoopRunsWhatTheHandlerPicks) {
  Fixture f(4);
  auto handler = std::make_shared<TwoStageHandler>();
  f.plan.plugins.push_back(handler);
  f.plan.handler = Bound<ProfileHandler>{handler.get(), handler.get()};
  auto& pre = f.profile("prefill");
  f.add_scorer(pre, std::make_shared<FixedScorer>("p", std::vector<double>{1, 0, 0, 0}), 1.0);
  auto& dec = f.plan.profiles.emplace_back();
  dec.name = "decode";
  dec.picker = f.plan.profiles.front().picker;
  f.add_scorer(f.plan.profiles.back(), std::make_shared<FixedScorer>("d", std::vector<double>{0, 0, 0, 1}),
               1.0);
  Scheduler s(std::move(f.plan), f.store, f.clock);
  Rng rng(1);
  auto r = s.schedule(LLMRequest{}, rng);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->profile_results.size(), 2u);
  EXPECT_EQ(r->profile_results[0].profile, "prefill");
  EXPECT_EQ(r->find("prefill")->targets[0].endpoint->id, "ns/pod0-rank-0");
  EXPECT_EQ(r->primary_profile, "decode");
  EXPECT_EQ(r->primary_endpoint()->id, "ns/pod3-rank-0");
}

// Names each bound step "ExtensionPoint/plugin-name".
class StepNames : public SchedulerObserver {
 public:
  void bind_steps(std::span<const TimedStep> steps) override {
    for (const auto& s : steps)
      names.push_back(std::string(s.extension_point) + "/" + s.plugin->typed_name().name);
  }
  std::vector<std::string> names;
};

class RecordingObserver final : public StepNames {
 public:
  void on_plugin_duration(uint32_t step, Nanos) override { calls.insert(names.at(step)); }
  void on_schedule(Nanos, bool ok) override { decisions += ok ? 1 : 100; }
  std::set<std::string> calls;
  int decisions = 0;
};

TEST(SchedulerTest, ObserverSeesEveryExtensionPoint) {
  EndpointStore store;
  testing::fill_store(store, testing::endpoints(2));
  ManualClock clock;
  auto plan = load_scheduler_plan("", builtin_registry(), clock);
  ASSERT_TRUE(plan) << plan.error().message;
  RecordingObserver obs;
  Scheduler s(std::move(*plan), store, clock, &obs);
  Rng rng(1);
  LLMRequest req;
  req.prompt = "hello";
  ASSERT_TRUE(s.schedule(req, rng));
  EXPECT_EQ(obs.decisions, 1);
  for (const char* want :
       {"ProducePlugin/token-producer", "ProducePlugin/approx-prefix-cache-producer", "Scorer/queue-scorer",
        "Scorer/kv-cache-utilization-scorer", "Scorer/prefix-cache-scorer", "Picker/max-score-picker",
        "ProfileHandler/single-profile-handler", "PreRequest/approx-prefix-cache-producer"}) {
    EXPECT_EQ(obs.calls.count(want), 1u) << want;
  }
}

// A scorer that takes a known time on the manual clock.
class SlowScorer final : public Plugin, public Scorer {
 public:
  SlowScorer(std::string name, ManualClock& clock, Nanos takes)
      : Plugin({"slow", std::move(name)}), clock_(clock), takes_(takes) {}
  ScorerCategory category() const override { return ScorerCategory::kBalance; }
  void score(const SchedulingContext&, std::span<const Candidate>, std::span<double>) const override {
    clock_.advance(takes_);
  }

 private:
  ManualClock& clock_;
  Nanos takes_;
};

class DurationObserver final : public StepNames {
 public:
  void on_plugin_duration(uint32_t step, Nanos d) override { took[names.at(step)] += d; }
  void on_schedule(Nanos d, bool) override { decision += d; }
  std::map<std::string, Nanos> took;
  Nanos decision{0};
};

// Consecutive plugins share clock reads (lap timing); each is still charged its own time only.
TEST(SchedulerTest, EachPluginIsChargedItsOwnTime) {
  Fixture f(3);
  ProfilePlan& p = f.profile("default");
  f.add_scorer(p, std::make_shared<SlowScorer>("a", f.clock, Nanos{7'000}), 1.0);
  f.add_scorer(p, std::make_shared<SlowScorer>("b", f.clock, Nanos{300}), 1.0);
  f.add_scorer(p, std::make_shared<SlowScorer>("c", f.clock, Nanos{0}), 1.0);
  DurationObserver obs;
  Scheduler s(std::move(f.plan), f.store, f.clock, &obs);
  Rng rng(1);
  ASSERT_TRUE(s.schedule(LLMRequest{}, rng));
  EXPECT_EQ(obs.took.at("Scorer/a"), Nanos{7'000});
  EXPECT_EQ(obs.took.at("Scorer/b"), Nanos{300});
  EXPECT_EQ(obs.took.at("Scorer/c"), Nanos{0});
  EXPECT_EQ(obs.took.at("Picker/max-score-picker"), Nanos{0});
  EXPECT_EQ(obs.took.at("ProfileHandler/h"), Nanos{0});
  EXPECT_EQ(obs.decision, Nanos{7'300});
}

LLMRequest chat(std::string system, std::string question) {
  LLMRequest r;
  r.model = "qwen";
  r.kind = ApiKind::kChatCompletions;
  r.messages = {{"system", {{ContentPart::Kind::kText, std::move(system)}}},
                {"user", {{ContentPart::Kind::kText, std::move(question)}}}};
  return r;
}

TEST(SchedulerTest, DefaultProfilePrefersLightEndpoints) {
  auto eps = testing::endpoints(3);
  eps[0].metrics.waiting_queue_size = 10;
  eps[0].metrics.kv_cache_usage = 0.9;
  eps[1].metrics.waiting_queue_size = 0;
  eps[1].metrics.kv_cache_usage = 0.1;
  eps[2].metrics.waiting_queue_size = 5;
  eps[2].metrics.kv_cache_usage = 0.5;
  EndpointStore store;
  testing::fill_store(store, eps);
  ManualClock clock;
  auto plan = load_scheduler_plan("", builtin_registry(), clock);
  ASSERT_TRUE(plan);
  Scheduler s(std::move(*plan), store, clock);
  Rng rng(3);
  auto r = s.schedule(chat("sys", "q"), rng);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->primary_endpoint()->id, eps[1].id);
  EXPECT_DOUBLE_EQ(r->primary()->targets[0].score, 2 * 1.0 + 2 * 0.9 + 3 * 0.0);
}

TEST(SchedulerTest, SharedPrefixesStickAndUnrelatedOnesSpread) {
  EndpointStore store;
  testing::fill_store(store, testing::endpoints(8));
  ManualClock clock;
  auto plan = load_scheduler_plan("", builtin_registry(), clock);
  ASSERT_TRUE(plan);
  Scheduler s(std::move(*plan), store, clock);
  Rng rng(11);
  const std::string system(6000, 's');
  std::map<int, std::string> group_home;
  std::set<std::string> homes;
  for (int round = 0; round < 3; ++round) {
    for (int g = 0; g < 16; ++g) {
      // 16 groups, each its own long system prompt, with a different question each time.
      auto r = s.schedule(chat(std::to_string(g) + system, "question " + std::to_string(round)), rng);
      ASSERT_TRUE(r);
      const std::string id = r->primary_endpoint()->id;
      if (round == 0) {
        group_home[g] = id;
        homes.insert(id);
      } else {
        EXPECT_EQ(id, group_home[g]) << "group " << g << " round " << round;
      }
    }
  }
  // Equal load everywhere: first placements are random ties, so the groups spread out.
  EXPECT_GE(homes.size(), 4u);
}

TEST(SchedulerTest, ResponseHooksReleaseInflightLoad) {
  EndpointStore store;
  testing::fill_store(store, testing::endpoints(2));
  ManualClock clock;
  auto plan = load_scheduler_plan(R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: active-request-scorer
- type: session-affinity-scorer
)",
                                  builtin_registry(), clock);
  ASSERT_TRUE(plan) << plan.error().message;
  Scheduler s(std::move(*plan), store, clock);
  Rng rng(5);
  LLMRequest req;
  req.prompt = "p";
  // Four in flight: the active-request scorer spreads them (1.0 for idle, less for busy).
  std::vector<SchedulingResult> live;
  std::map<std::string, int> per;
  for (int i = 0; i < 4; ++i) {
    auto r = s.schedule(req, rng);
    ASSERT_TRUE(r);
    ++per[r->primary_endpoint()->id];
    live.push_back(std::move(*r));
  }
  EXPECT_EQ(per.size(), 2u);
  EXPECT_EQ(per.begin()->second, 2);
  HeaderList headers;
  s.response_received(req, live[0], headers);
  EXPECT_FALSE(find_header(headers, "x-session-token").empty());
  for (auto& r : live) s.response_complete(req, r, ResponseCompletion{});
}

TEST(SchedulerTest, ConcurrentDecisionsWhileMetricsChange) {
  EndpointStore store;
  testing::fill_store(store, testing::endpoints(16));
  ManualClock clock;
  auto plan = load_scheduler_plan("", builtin_registry(), clock);
  ASSERT_TRUE(plan);
  Scheduler s(std::move(*plan), store, clock);
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    int64_t q = 0;
    while (!stop.load()) {
      EndpointMetrics m;
      m.waiting_queue_size = q++ % 7;
      store.update_metrics("ns/pod" + std::to_string(q % 16) + "-rank-0", m);
    }
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      Rng rng(static_cast<uint64_t>(t) + 1);
      for (int i = 0; i < 300; ++i) {
        LLMRequest req;
        req.prompt = std::string(512, static_cast<char>('a' + (i % 5))) + std::to_string(i);
        if (auto r = s.schedule(req, rng); r && r->primary_endpoint() != nullptr) ok.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(ok.load(), 900);
}

}  // namespace
}  // namespace llmd::sched

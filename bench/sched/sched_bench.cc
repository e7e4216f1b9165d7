// Scheduler microbenchmark (issue 4, benchmark d): per-decision latency of Scheduler::schedule() with
// 100 endpoints, 8k-token prompts (32 KiB of text) and llm-d's default profile (queue-scorer 2,
// kv-cache-utilization-scorer 2, prefix-cache-scorer 3 with the approximate producer, max-score picker).
// Every decision is timed on its own; p50/p99/p999/max are reported as counters (microseconds).
//
// The workload mimics the shared-prefix benchmarks llm-d publishes: 150 groups, each with a 24 KiB
// system prompt, followed by an 8 KiB question that differs per request. The index is warmed first, so
// most decisions hit one or a few endpoints and walk ~96 cached blocks before the first miss.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/clock.h"
#include "common/random.h"
#include "log/log.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"
#include "sched/scheduler.h"

namespace {

using namespace llmd;
using namespace llmd::sched;

constexpr int kEndpoints = 100;
constexpr int kGroups = 150;
constexpr size_t kSystemBytes = 24 * 1024;
constexpr size_t kQuestionBytes = 8 * 1024;

std::string text(Rng& rng, size_t bytes) {
  static constexpr std::string_view kWords[] = {"the ",   "model ",    "cache ",   "prefix ",
                                                "token ", "request ",  "latency ", "router ",
                                                "block ", "endpoint ", "queue ",   "data "};
  std::string s;
  s.reserve(bytes + 16);
  while (s.size() < bytes) s += kWords[rng.below(std::size(kWords))];
  s.resize(bytes);
  return s;
}

void fill(EndpointStore& store, Rng& rng) {
  std::vector<EndpointSpec> specs;
  for (int i = 0; i < kEndpoints; ++i) {
    specs.push_back(EndpointSpec{make_endpoint_id("bench", "vllm-" + std::to_string(i), 0),
                                 "10.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1),
                                 8000,
                                 {}});
  }
  (void)store.replace_all(std::move(specs));
  const SnapshotPtr snap = store.snapshot();  // held: each update below publishes a new one
  for (const auto& e : snap->endpoints) {
    EndpointMetrics m;
    m.waiting_queue_size = static_cast<int64_t>(rng.below(20));
    m.running_requests_size = static_cast<int64_t>(rng.below(64));
    m.kv_cache_usage = rng.uniform();
    m.cache_block_size = 16;
    m.cache_num_gpu_blocks = 31250;
    store.update_metrics(e->id, m);
  }
}

struct Workload {
  std::vector<std::string> systems;
  std::vector<std::string> questions;
  explicit Workload(Rng& rng) {
    for (int g = 0; g < kGroups; ++g) systems.push_back(text(rng, kSystemBytes));
    for (int q = 0; q < 64; ++q) questions.push_back(text(rng, kQuestionBytes));
  }
  LLMRequest request(size_t i) const {
    LLMRequest r;
    r.model = "Qwen/Qwen3-32B";
    r.kind = ApiKind::kCompletions;
    r.prompt = systems[i % systems.size()] + questions[(i / systems.size() + i) % questions.size()];
    return r;
  }
};

void report(benchmark::State& state, std::vector<int64_t>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    const size_t idx = std::min(ns.size() - 1, static_cast<size_t>(p * static_cast<double>(ns.size())));
    return static_cast<double>(ns[idx]) / 1000.0;
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["p999_us"] = pct(0.999);
  state.counters["max_us"] = static_cast<double>(ns.back()) / 1000.0;
  state.counters["decisions"] = static_cast<double>(ns.size());
}

enum class Measure { kWall, kThreadCpu };

int64_t now_ns(Measure m) {
  if (m == Measure::kWall) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void run(benchmark::State& state, std::string_view config, Measure measure = Measure::kWall) {
  log::set_level("warn");
  Rng rng(42);
  EndpointStore store;
  fill(store, rng);
  auto plan = load_scheduler_plan(config, builtin_registry(), SystemClock::instance());
  if (!plan) {
    state.SkipWithError(plan.error().message.c_str());
    return;
  }
  Scheduler scheduler(std::move(*plan), store, SystemClock::instance());
  const Workload w(rng);
  // Requests are prepared outside the timed region: parsing is the data plane's cost, not the scheduler's.
  std::vector<LLMRequest> reqs;
  for (size_t i = 0; i < 512; ++i) reqs.push_back(w.request(i));
  // Warm-up: every group routed at least twice, so the index holds its prefix somewhere.
  for (size_t i = 0; i < 2 * kGroups; ++i) (void)scheduler.schedule(w.request(i + 7), rng);

  std::vector<int64_t> ns;
  ns.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    const LLMRequest& req = reqs[i++ % reqs.size()];
    const int64_t t0 = now_ns(measure);
    auto r = scheduler.schedule(req, rng);
    const int64_t t1 = now_ns(measure);
    benchmark::DoNotOptimize(r);
    if (ns.size() < ns.capacity()) ns.push_back(t1 - t0);
  }
  report(state, ns);
}

// No config → llm-d's built-in default profile: queue-scorer ×2, kv-cache-utilization-scorer ×2,
// prefix-cache-scorer ×3, max-score-picker.
void BM_DefaultProfile_100Endpoints_8kPrompt(benchmark::State& state) { run(state, ""); }

// The same, timing each decision by the thread's CPU clock: on a shared machine the wall-clock tail is
// mostly time spent preempted, which this excludes (each reading costs a system call, ~0.3 µs).
void BM_DefaultProfile_100Endpoints_8kPrompt_ThreadCpu(benchmark::State& state) {
  run(state, "", Measure::kThreadCpu);
}

// The baseline: round-robin picker, no scorers, no producers.
void BM_RoundRobin_100Endpoints(benchmark::State& state) {
  run(state, "apiVersion: llm-d.ai/v1\nkind: EndpointPickerConfig\nplugins:\n- type: round-robin\n");
}

}  // namespace

BENCHMARK(BM_DefaultProfile_100Endpoints_8kPrompt)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DefaultProfile_100Endpoints_8kPrompt_ThreadCpu)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RoundRobin_100Endpoints)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();

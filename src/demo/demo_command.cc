#include "demo/demo_command.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/signals.h"
#include "loadgen/bench_config.h"
#include "loadgen/console_progress.h"
#include "loadgen/html_report.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
#include "loadgen/sim_token_counter.h"
#include "stack/stack.h"

namespace llmd::demo {

namespace {

// The scaled-down llm-d optimized-baseline (llm-d-benchmark's guide_optimized-baseline_1 workload;
// replica KV capacity from llm-d's "KV-cache wins you can see" blog post): the guide runs 150 groups of
// 6000 shared + 1200 unique tokens on 8-16 replicas with 307k KV tokens each, so one replica holds
// about a third of the prefixes. Here each of 4 replicas holds about a third of 48 groups (8192
// blocks of 16 tokens), so round-robin keeps missing while prefix-aware routing needs a quarter
// per replica plus room for the running requests.
// 14 req/s is above what round-robin's miss rate can prefill and well below the aware capacity.
// Both runs first send a warm-up (excluded from the results) of as many requests as there are
// groups.
struct DemoOptions {
  std::string out_dir = "demo-out";
  uint32_t replicas = 4;
  std::string profile = "qwen3-32b-h100-tp2";
  uint32_t num_gpu_blocks = 8192;
  uint32_t num_groups = 48;
  uint32_t prompts_per_group = 8;
  uint32_t system_prompt_len = 6000;
  uint32_t question_len = 1200;
  uint32_t output_len = 128;
  double rate = 14;
  // A warm-up of one request per group (on average) at a rate both setups can prefill, so the
  // measured stage compares steady states rather than the cold start. Excluded from the results.
  double warmup_rate = 6;
  std::string progress = "auto";
};

constexpr const char* kModel = "Qwen/Qwen3-32B";

constexpr const char* kRoundRobinConfig = R"(apiVersion: llm-d.ai/v1
kind: EndpointPickerConfig
plugins:
- type: round-robin
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: round-robin
)";

struct Phase {
  std::string name;    // label in the table and the report
  std::string slug;    // file names
  std::string config;  // EndpointPickerConfig; empty: llm-d's default
};

struct PhaseResult {
  loadgen::RunResult run;
  std::string report_path;
};

Result<void> write_file(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) return make_error(ErrorCode::kIo, fmt::format("{}: cannot write", path));
  return {};
}

std::string bench_yaml(const DemoOptions& o, const std::string& url) {
  const uint64_t requests = uint64_t{o.num_groups} * o.prompts_per_group;
  // The stage ends after `requests` sends; the duration is only a backstop.
  const double duration = std::ceil(static_cast<double>(requests) / o.rate) + 5;
  return fmt::format(R"(targets: ["{}"]
api: {{type: completions, streaming: true, model: "{}", ignore_eos: true}}
data:
  type: shared_prefix
  seed: 42
  shared_prefix: {{num_groups: {}, prompts_per_group: {}, system_prompt_len: {}, question_len: {}, output_len: {}}}
load:
  type: constant
  warmup: {{rate: {}, duration: {}s, num_requests: {}}}
  stages: [{{rate: {}, duration: {}s, num_requests: {}}}]
  timeout: 120s
)",
                     url, kModel, o.num_groups, o.prompts_per_group, o.system_prompt_len, o.question_len,
                     o.output_len, o.warmup_rate, std::ceil(o.num_groups / o.warmup_rate) + 5, o.num_groups,
                     o.rate, duration, requests);
}

Result<PhaseResult> run_phase(const DemoOptions& o, const Phase& phase, const loadgen::Workload& workload,
                              const loadgen::BenchConfig& base) {
  // Two handlers watch SIGINT/SIGTERM during a phase: the stack's (on its own thread, installed when
  // it starts) and the load generator's (installed when the run starts). A Ctrl-C that came between
  // the two reached the stack alone: the children stopped but the run went on, failing every request
  // until it ended. Held pending here (every thread started later inherits the mask), a stop signal is
  // delivered once the load generator unblocks it, when both handlers are in place and see it.
  block_stop_signals();
  const std::string log_dir = o.out_dir + "/logs/" + phase.slug;
  std::filesystem::create_directories(log_dir);
  stack::StackSpec spec;
  spec.log_level = "warn";
  stack::SimSpec sim;
  sim.name = "sim";
  sim.replicas = o.replicas;
  sim.profile = o.profile;
  sim.model = kModel;  // whatever the profile, requests name one model
  sim.args = {"--num-gpu-blocks", std::to_string(o.num_gpu_blocks)};
  spec.sims.push_back(sim);
  stack::RouterSpec router;
  router.name = "router";
  router.config = phase.config;
  spec.routers.push_back(router);

  fmt::print("== {}: starting {} simulated {} replicas and a router ...\n", phase.name, o.replicas,
             o.profile);
  std::fflush(stdout);
  stack::StackOptions so;
  so.log_dir = log_dir;
  auto st = stack::Stack::start(spec, so);
  if (!st) return st.error();
  const std::string url = (*st)->find("router")->urls.at(0);

  loadgen::RunnerOptions ro;
  auto target = loadgen::parse_target(url, "targets[0]");
  if (!target) return target.error();
  ro.targets.push_back(*target);
  ro.request = base.request;
  ro.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(base.timeout.count() * 1000));
  ro.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(base.connect_timeout.count() * 1000));
  ro.seed = base.workload.seed;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  std::unique_ptr<loadgen::ConsoleProgress> progress;
  if (o.progress == "bar" || (o.progress == "auto" && tty)) {
    progress = std::make_unique<loadgen::ConsoleProgress>(true);
    ro.progress_interval = std::chrono::milliseconds(250);
  } else if (o.progress == "lines" || o.progress == "auto") {
    progress = std::make_unique<loadgen::ConsoleProgress>(false);
    ro.progress_interval = std::chrono::milliseconds(5'000);
  }
  fmt::print("== {}: sending {} requests at {} req/s through {}\n", phase.name,
             base.load.stages.at(0).num_requests, o.rate, url);
  std::fflush(stdout);
  const Clock& clock = SystemClock::instance();
  auto out = loadgen::run_blocking(clock, workload, base.load, ro, progress.get(), true);
  const bool healthy = (*st)->healthy();
  const bool interrupted = (*st)->interrupted();
  (*st)->stop();
  if (interrupted) return make_error(ErrorCode::kCancelled, "interrupted");
  if (!out) return out.error();
  if (!healthy) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{}: a component died during the run (logs in {})", phase.name, log_dir));
  }
  PhaseResult r;
  r.run = std::move(out->result);
  r.run.info.description = phase.name;
  r.run.info.keywords = {"llmd-demo", phase.slug};
  r.report_path = o.out_dir + "/" + phase.slug + ".json";
  if (auto w = write_file(r.report_path, boost::json::serialize(loadgen::to_report_json(r.run)) + "\n"); !w) {
    return w.error();
  }
  return r;
}

std::string ratio_note(double baseline, double value, bool lower_is_better) {
  if (baseline <= 0 || value <= 0) return "";
  if (lower_is_better) {
    return baseline >= value ? fmt::format("{:.1f}x lower", baseline / value)
                             : fmt::format("{:.1f}x higher", value / baseline);
  }
  return fmt::format("{:+.0f}%", (value / baseline - 1) * 100);
}

void print_table(const loadgen::Summary& rr, const loadgen::Summary& llmd) {
  auto row = [](const char* label, const std::string& a, const std::string& b, const std::string& note) {
    fmt::print("  {:<26}{:>14}{:>16}   {}\n", label, a, b, note);
  };
  auto ms = [](double s) { return fmt::format("{:.0f}", s * 1000); };
  fmt::print("\n");
  row("", "round-robin", "llm-d default", "");
  row("TTFT p50 (ms)", ms(rr.ttft.p50), ms(llmd.ttft.p50), ratio_note(rr.ttft.p50, llmd.ttft.p50, true));
  row("TTFT p90 (ms)", ms(rr.ttft.p90), ms(llmd.ttft.p90), ratio_note(rr.ttft.p90, llmd.ttft.p90, true));
  row("ITL p50 (ms)", fmt::format("{:.1f}", rr.itl.p50 * 1000), fmt::format("{:.1f}", llmd.itl.p50 * 1000),
      ratio_note(rr.itl.p50, llmd.itl.p50, true));
  row("Output tokens/s", fmt::format("{:.0f}", rr.output_token_rate),
      fmt::format("{:.0f}", llmd.output_token_rate),
      ratio_note(rr.output_token_rate, llmd.output_token_rate, false));
  row("Prefix-cache hit rate", fmt::format("{:.1f}%", rr.cache_hit_fraction * 100),
      fmt::format("{:.1f}%", llmd.cache_hit_fraction * 100), "");
  row("Requests ok / errors", fmt::format("{} / {}", rr.succeeded, rr.failed),
      fmt::format("{} / {}", llmd.succeeded, llmd.failed), "");
  for (const auto* s : {&rr, &llmd}) {
    for (const auto& [type, n] : s->errors) {
      fmt::print("  {} errors: {} x {}\n", s == &rr ? "round-robin" : "llm-d default", n, type);
    }
  }
  fmt::print("\n");
}

int run_demo(const DemoOptions& o) {
  std::filesystem::create_directories(o.out_dir);
  auto base = loadgen::parse_bench_config(bench_yaml(o, "http://127.0.0.1:1"), "<demo>");
  if (!base) {
    fmt::print(stderr, "llmd demo: {}\n", base.error().message);
    return 2;
  }
  if (auto v = base->validate(); !v) {
    fmt::print(stderr, "llmd demo: {}\n", v.error().message);
    return 2;
  }
  loadgen::SimTokenCounter counter;
  auto workload = loadgen::build_workload(base->workload, counter);
  if (!workload) {
    fmt::print(stderr, "llmd demo: {}\n", workload.error().message);
    return 2;
  }
  fmt::print(
      "llmd demo: {} groups x {} prompts ({} shared + {} unique tokens, {} output tokens), {} replicas of "
      "{}\n",
      o.num_groups, o.prompts_per_group, o.system_prompt_len, o.question_len, o.output_len, o.replicas,
      o.profile);

  const Phase phases[] = {
      {"round-robin", "round-robin", kRoundRobinConfig},
      {"llm-d default", "llmd-default", ""},
  };
  std::vector<PhaseResult> results;
  for (const Phase& p : phases) {
    auto r = run_phase(o, p, *workload, *base);
    if (!r) {
      fmt::print(stderr, "llmd demo: {}\n", r.error().message);
      return 1;
    }
    results.push_back(std::move(*r));
  }

  const loadgen::Summary& rr = results[0].run.overall;
  const loadgen::Summary& ld = results[1].run.overall;
  print_table(rr, ld);

  std::vector<loadgen::ParsedReport> parsed;
  for (const PhaseResult& r : results) {
    auto p =
        loadgen::parse_report(boost::json::serialize(loadgen::to_report_json(r.run)), r.run.info.description);
    if (!p) {
      fmt::print(stderr, "llmd demo: {}: {}\n", r.report_path, p.error().message);
      return 1;
    }
    parsed.push_back(std::move(*p));
  }
  const std::string html = o.out_dir + "/report.html";
  if (auto w =
          write_file(html, loadgen::render_html_report(parsed, "llmd demo: round-robin vs llm-d default"));
      !w) {
    fmt::print(stderr, "llmd demo: {}\n", w.error().message);
    return 1;
  }
  fmt::print("reports: {} {} {}\nlogs: {}/logs/\n", results[0].report_path, results[1].report_path, html,
             o.out_dir);
  if (rr.failed + ld.failed > 0 || rr.succeeded == 0 || ld.succeeded == 0) {
    fmt::print(stderr, "llmd demo: some requests failed (see the reports)\n");
    return 1;
  }
  return 0;
}

}  // namespace

cli::RunFn setup_demo_command(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  app.add_option("--out", o->out_dir, "Directory for the reports and logs")->capture_default_str();
  app.add_option("--replicas", o->replicas, "Simulated replicas")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--profile", o->profile, "Simulator profile")->capture_default_str();
  app.add_option("--num-gpu-blocks", o->num_gpu_blocks, "KV blocks per replica")->capture_default_str();
  app.add_option("--num-groups", o->num_groups, "Shared-prefix groups")->capture_default_str();
  app.add_option("--prompts-per-group", o->prompts_per_group, "Prompts per group")->capture_default_str();
  app.add_option("--system-prompt-len", o->system_prompt_len, "Shared prefix tokens")->capture_default_str();
  app.add_option("--question-len", o->question_len, "Unique tokens per prompt")->capture_default_str();
  app.add_option("--output-len", o->output_len, "Output tokens per request")->capture_default_str();
  app.add_option("--rate", o->rate, "Requests per second")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup-rate", o->warmup_rate, "Warm-up requests per second (one per group)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--progress", o->progress, "auto, bar, lines or off")->capture_default_str();
  return [o] { return run_demo(*o); };
}

}  // namespace llmd::demo

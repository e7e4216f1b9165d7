#include "loadgen/bench_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "common/clock.h"
#include "loadgen/bench_config.h"
#include "loadgen/console.h"
#include "loadgen/console_progress.h"
#include "loadgen/hf_token_counter.h"
#include "loadgen/html_report.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
#include "loadgen/sim_token_counter.h"
#include "loadgen/token_counter.h"
#include "log/log.h"

namespace llmd::loadgen {

namespace {

constexpr int kExitConfig = 2;

struct Flags {
  std::string config;
  std::vector<std::string> urls;
  std::string model, api;
  bool no_stream = false, no_ignore_eos = false;
  std::vector<std::string> headers;
  std::string workload;
  uint32_t num_groups = 0, prompts_per_group = 0, system_prompt_len = 0, question_len = 0, output_len = 0,
           turns = 0;
  std::string input_dist, output_dist;
  uint32_t num_prompts = 0;
  uint64_t seed = 0;
  std::string tokenizer;
  std::string load;
  double rate = 10, duration = 60;
  uint32_t concurrency = 8;
  uint64_t num_requests = 0;
  std::string stages, warmup;
  uint32_t sweep_stages = 0, sweep_probe_concurrency = 0;
  double sweep_stage_duration = 0, sweep_probe_duration = 0;
  bool sweep_geometric = false;
  std::string sweep_arrivals;
  std::string slo_ttft, slo_tpot;
  double timeout = 0, connect_timeout = 0;
  uint64_t max_inflight = 0;
  std::string output, requests_jsonl, requests_csv, description;
  std::vector<std::string> keywords;
  std::string progress = "auto";
  // report subcommand
  std::vector<std::string> report_inputs;
  std::string html_output = "bench-report.html";
  std::string title = "llmd bench comparison";
};

struct Options {
  CLI::App* app = nullptr;
  CLI::App* report = nullptr;
  Flags f;
  bool given(const char* name) const { return app->count(name) > 0; }
};

Result<void> write_file(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return make_error(ErrorCode::kIo, fmt::format("{}: cannot open for writing", path));
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) return make_error(ErrorCode::kIo, fmt::format("{}: write failed", path));
  return {};
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, fmt::format("{}: cannot open", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Overrides the config with the flags that were given on the command line.
Result<void> apply_flags(const Options& o, BenchConfig& c) {
  const Flags& f = o.f;
  if (!f.urls.empty()) c.targets = f.urls;
  if (o.given("--model")) c.request.model = f.model;
  if (o.given("--api")) {
    auto api = vllm::parse_api_kind(f.api);
    if (!api) return api.error();
    c.request.api = *api;
  }
  if (f.no_stream) c.request.stream = false;
  if (f.no_ignore_eos) c.request.ignore_eos = false;
  for (const auto& h : f.headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos)
      return make_error(ErrorCode::kConfig, fmt::format("--header: expected NAME:VALUE, got '{}'", h));
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    c.headers[h.substr(0, colon)] = value;
  }
  auto& w = c.workload;
  if (o.given("--workload")) {
    auto kind = parse_workload_kind(f.workload);
    if (!kind) return kind.error();
    w.kind = *kind;
    if (w.kind != WorkloadKind::kSharedPrefix && w.kind != WorkloadKind::kRandom)
      w.random = synthetic_profile(w.kind);
  }
  if (o.given("--num-groups")) w.shared_prefix.num_groups = f.num_groups;
  if (o.given("--prompts-per-group")) w.shared_prefix.prompts_per_group = f.prompts_per_group;
  if (o.given("--system-prompt-len")) w.shared_prefix.system_prompt_len = f.system_prompt_len;
  if (o.given("--question-len")) w.shared_prefix.question_len = f.question_len;
  if (o.given("--output-len")) w.shared_prefix.output_len = f.output_len;
  if (o.given("--turns")) w.shared_prefix.turns = f.turns;
  if (o.given("--input-dist")) {
    auto d = parse_distribution(f.input_dist, "--input-dist");
    if (!d) return d.error();
    w.random.input = *d;
  }
  if (o.given("--output-dist")) {
    auto d = parse_distribution(f.output_dist, "--output-dist");
    if (!d) return d.error();
    w.random.output = *d;
  }
  if (o.given("--num-prompts")) w.random.num_prompts = f.num_prompts;
  if (o.given("--seed")) w.seed = f.seed;
  if (o.given("--tokenizer")) c.tokenizer = f.tokenizer;

  auto& l = c.load;
  if (o.given("--load")) {
    auto kind = parse_load_kind(f.load);
    if (!kind) return kind.error();
    l.kind = *kind;
  }
  const LoadKind stage_kind = l.kind == LoadKind::kConcurrent ? LoadKind::kConcurrent : LoadKind::kConstant;
  if (o.given("--stages")) {
    auto st = parse_stages(f.stages, stage_kind, "--stages");
    if (!st) return st.error();
    l.stages = *st;
  } else if (l.kind != LoadKind::kSweep &&
             (l.stages.empty() || o.given("--rate") || o.given("--concurrency") || o.given("--duration") ||
              o.given("--num-requests"))) {
    // One stage from the single-stage flags (and their defaults).
    Stage s;
    if (l.kind == LoadKind::kConcurrent) {
      s.concurrency = f.concurrency;
    } else {
      s.rate = f.rate;
    }
    s.num_requests = f.num_requests;
    s.duration_s = o.given("--duration") || f.num_requests == 0 ? f.duration : 0;
    l.stages = {s};
  }
  if (o.given("--warmup")) {
    auto st = parse_stages(f.warmup, stage_kind, "--warmup");
    if (!st) return st.error();
    if (st->size() != 1) return make_error(ErrorCode::kConfig, "--warmup: expects a single stage");
    l.warmup = st->front();
  }
  if (o.given("--sweep-stages")) l.sweep.num_stages = f.sweep_stages;
  if (o.given("--sweep-stage-duration")) l.sweep.stage_duration_s = f.sweep_stage_duration;
  if (f.sweep_geometric) l.sweep.geometric = true;
  if (o.given("--sweep-probe-concurrency")) l.sweep.probe_concurrency = f.sweep_probe_concurrency;
  if (o.given("--sweep-probe-duration")) l.sweep.probe_duration_s = f.sweep_probe_duration;
  if (o.given("--sweep-arrivals")) {
    auto kind = parse_load_kind(f.sweep_arrivals);
    if (!kind) return kind.error();
    l.sweep.arrivals = *kind;
  }
  if (o.given("--slo-ttft")) {
    auto s = parse_seconds(f.slo_ttft, "--slo-ttft");
    if (!s) return s.error();
    c.slo.ttft_s = *s;
  }
  if (o.given("--slo-tpot")) {
    auto s = parse_seconds(f.slo_tpot, "--slo-tpot");
    if (!s) return s.error();
    c.slo.tpot_s = *s;
  }
  if (o.given("--timeout")) c.timeout = std::chrono::duration<double>(f.timeout);
  if (o.given("--connect-timeout")) c.connect_timeout = std::chrono::duration<double>(f.connect_timeout);
  if (o.given("--max-inflight")) c.max_inflight = f.max_inflight;
  if (o.given("--output")) c.output.report = f.output;
  if (o.given("--requests-jsonl")) c.output.requests_jsonl = f.requests_jsonl;
  if (o.given("--requests-csv")) c.output.requests_csv = f.requests_csv;
  if (o.given("--description")) c.output.description = f.description;
  if (!f.keywords.empty()) c.output.keywords = f.keywords;
  return {};
}

std::string random_uid(const Clock& clock) {
  Rng rng(static_cast<uint64_t>(clock.wall_now().count()) ^ static_cast<uint64_t>(::getpid()));
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

int run_bench(const Options& o) {
  BenchConfig cfg;
  if (!o.f.config.empty()) {
    auto loaded = load_bench_config(o.f.config);
    if (!loaded) {
      fmt::print(stderr, "llmd bench: {}\n", loaded.error().message);
      return kExitConfig;
    }
    cfg = std::move(*loaded);
  }
  if (auto r = apply_flags(o, cfg); !r) {
    fmt::print(stderr, "llmd bench: {}\n", r.error().message);
    return kExitConfig;
  }
  if (auto v = cfg.validate(); !v) {
    fmt::print(stderr, "llmd bench: {}\n", v.error().message);
    return kExitConfig;
  }
  RunnerOptions ro;
  for (size_t i = 0; i < cfg.targets.size(); ++i) {
    auto t = parse_target(cfg.targets[i], fmt::format("targets[{}]", i));
    if (!t) {
      fmt::print(stderr, "llmd bench: {}\n", t.error().message);
      return kExitConfig;
    }
    ro.targets.push_back(*t);
  }
  ro.request = cfg.request;
  ro.headers.assign(cfg.headers.begin(), cfg.headers.end());
  ro.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.timeout.count() * 1000));
  ro.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.connect_timeout.count() * 1000));
  ro.max_inflight = cfg.max_inflight;
  ro.slo = cfg.slo;
  ro.seed = cfg.workload.seed;

  std::unique_ptr<TokenCounter> counter = std::make_unique<SimTokenCounter>();
  if (!cfg.tokenizer.empty()) {
    auto hf = HfTokenCounter::load(cfg.tokenizer);
    if (!hf) {
      fmt::print(stderr, "llmd bench: data.tokenizer: {}\n", hf.error().message);
      return kExitConfig;
    }
    counter = std::move(*hf);
  }
  auto workload = build_workload(cfg.workload, *counter);
  if (!workload) {
    fmt::print(stderr, "llmd bench: {}\n", workload.error().message);
    return kExitConfig;
  }
  log::info("bench workload ready", log::kv("workload", to_string(cfg.workload.kind)),
            log::kv("prompts", workload->prompts.size()), log::kv("tokenizer", workload->tokenizer));

  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const std::string& mode = o.f.progress;
  std::unique_ptr<ConsoleProgress> progress;
  if (mode == "bar" || (mode == "auto" && tty)) {
    progress = std::make_unique<ConsoleProgress>(true);
    ro.progress_interval = std::chrono::milliseconds(250);
  } else if (mode == "lines" || mode == "auto") {
    progress = std::make_unique<ConsoleProgress>(false);
    ro.progress_interval = std::chrono::milliseconds(5'000);
  }

  const Clock& clock = SystemClock::instance();
  auto out = run_blocking(clock, *workload, cfg.load, ro, progress.get(), true);
  if (!out) {
    fmt::print(stderr, "llmd bench: {}\n", out.error().message);
    return 1;
  }
  RunResult& run = out->result;
  run.info.uid = random_uid(clock);
  run.info.description = cfg.output.description;
  run.info.keywords = cfg.output.keywords;

  fmt::print("{}", format_summary_table(run));
  int rc = 0;
  if (!cfg.output.report.empty()) {
    if (auto w = write_file(cfg.output.report, boost::json::serialize(to_report_json(run)) + "\n"); !w) {
      fmt::print(stderr, "llmd bench: {}\n", w.error().message);
      rc = 1;
    } else {
      fmt::print("report: {}\n", cfg.output.report);
    }
  }
  if (!cfg.output.requests_jsonl.empty()) {
    std::string text;
    for (const auto& stage : out->records) {
      for (const auto& r : stage) text += record_jsonl(r, out->origin) + "\n";
    }
    if (auto w = write_file(cfg.output.requests_jsonl, text); !w) {
      fmt::print(stderr, "llmd bench: {}\n", w.error().message);
      rc = 1;
    }
  }
  if (!cfg.output.requests_csv.empty()) {
    std::string text(csv_header());
    for (const auto& stage : out->records) {
      for (const auto& r : stage) text += record_csv(r, out->origin);
    }
    if (auto w = write_file(cfg.output.requests_csv, text); !w) {
      fmt::print(stderr, "llmd bench: {}\n", w.error().message);
      rc = 1;
    }
  }
  if (run.overall.total > 0 && run.overall.succeeded == 0) {
    fmt::print(stderr, "llmd bench: no request succeeded\n");
    rc = 1;
  }
  return rc;
}

int run_report(const Options& o) {
  std::vector<ParsedReport> runs;
  for (const auto& path : o.f.report_inputs) {
    auto text = read_file(path);
    if (!text) {
      fmt::print(stderr, "llmd bench report: {}\n", text.error().message);
      return kExitConfig;
    }
    auto parsed = parse_report(*text, std::filesystem::path(path).stem().string());
    if (!parsed) {
      fmt::print(stderr, "llmd bench report: {}: {}\n", path, parsed.error().message);
      return kExitConfig;
    }
    runs.push_back(std::move(*parsed));
  }
  if (auto w = write_file(o.f.html_output, render_html_report(runs, o.f.title)); !w) {
    fmt::print(stderr, "llmd bench report: {}\n", w.error().message);
    return 1;
  }
  fmt::print("wrote {}\n", o.f.html_output);
  return 0;
}

}  // namespace

cli::RunFn setup_bench_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  o->app = &app;
  Flags& f = o->f;
  app.add_option("--config", f.config, "YAML config (see docs/benchmarking.md); flags override it");
  app.add_option("--url", f.urls,
                 "Target base URL, http://HOST:PORT[/PREFIX] (repeat to rotate over several)");
  app.add_option("--model", f.model, "Model name sent in requests");
  app.add_option("--api", f.api, "completions (default) or chat");
  app.add_flag("--no-stream", f.no_stream, "Do not stream (TTFT and ITL are then not measured)");
  app.add_flag("--no-ignore-eos", f.no_ignore_eos, "Do not send ignore_eos=true");
  app.add_option("--header", f.headers, "Extra request header NAME:VALUE (repeatable)");

  app.add_option("--workload", f.workload,
                 "shared_prefix (default), random, chatbot, code_completion, summarization");
  app.add_option("--num-groups", f.num_groups, "shared_prefix: groups (default 32)");
  app.add_option("--prompts-per-group", f.prompts_per_group, "shared_prefix: users per group (default 32)");
  app.add_option("--system-prompt-len", f.system_prompt_len,
                 "shared_prefix: shared prefix tokens (default 2048)");
  app.add_option("--question-len", f.question_len, "shared_prefix: question tokens (default 256)");
  app.add_option("--output-len", f.output_len, "shared_prefix: output tokens (default 256)");
  app.add_option("--turns", f.turns, "shared_prefix: turns per user; >1 accumulates history (default 1)");
  app.add_option(
      "--input-dist", f.input_dist,
      "random: input tokens, e.g. fixed:512, uniform:64,256, normal:512,128[,MIN,MAX], lognormal:512,256");
  app.add_option("--output-dist", f.output_dist, "random: output tokens (same forms)");
  app.add_option("--num-prompts", f.num_prompts, "random/profiles: distinct prompts (default 1000)");
  app.add_option("--seed", f.seed, "Seed for prompts and Poisson arrivals (default 42)");
  app.add_option("--tokenizer", f.tokenizer,
                 "Hugging Face tokenizer.json to count lengths in (default: llmd sim's)");

  app.add_option("--load", f.load, "constant (default), poisson, concurrent or sweep");
  app.add_option("--rate", f.rate, "Single stage: requests/s (default 10)");
  app.add_option("--concurrency", f.concurrency, "Single stage (concurrent): requests in flight (default 8)");
  app.add_option("--duration", f.duration, "Single stage: seconds (default 60, or none with --num-requests)");
  app.add_option("--num-requests", f.num_requests, "Single stage: stop after this many requests");
  app.add_option("--stages", f.stages, "Ladder RATE:SECONDS[:COUNT],... (CONCURRENCY:... for concurrent)");
  app.add_option("--warmup", f.warmup, "Warm-up stage RATE:SECONDS[:COUNT], excluded from results");
  app.add_option("--sweep-stages", f.sweep_stages, "sweep: rate stages after the probe (default 5)");
  app.add_option("--sweep-stage-duration", f.sweep_stage_duration, "sweep: seconds per stage (default 30)");
  app.add_flag("--sweep-geometric", f.sweep_geometric,
               "sweep: geometric rates from 5% of saturation (default linear)");
  app.add_option("--sweep-probe-concurrency", f.sweep_probe_concurrency,
                 "sweep: probe concurrency (default 256)");
  app.add_option("--sweep-probe-duration", f.sweep_probe_duration, "sweep: probe seconds (default 15)");
  app.add_option("--sweep-arrivals", f.sweep_arrivals, "sweep: poisson (default) or constant");

  app.add_option("--slo-ttft", f.slo_ttft, "Goodput SLO on TTFT, e.g. 500ms or 1s");
  app.add_option("--slo-tpot", f.slo_tpot, "Goodput SLO on TPOT, e.g. 50ms");
  app.add_option("--timeout", f.timeout, "Seconds to first byte and between bytes (default 300)");
  app.add_option("--connect-timeout", f.connect_timeout, "Connect timeout in seconds (default 5)");
  app.add_option("--max-inflight", f.max_inflight,
                 "Bound on requests in flight; sends past it are dropped and counted (default 10000)");

  app.add_option("-o,--output", f.output, "JSON report (llm-d benchmark report v0.2 fields)");
  app.add_option("--requests-jsonl", f.requests_jsonl, "Per-request JSONL (with every ITL gap)");
  app.add_option("--requests-csv", f.requests_csv, "Per-request CSV");
  app.add_option("--description", f.description, "Run description (the label in HTML reports)");
  app.add_option("--keyword", f.keywords, "Run keyword (repeatable)");
  app.add_option("--progress", f.progress, "auto (bar on a TTY, lines otherwise), bar, lines or off")
      ->check(CLI::IsMember({"auto", "bar", "lines", "off"}));

  o->report = app.add_subcommand("report", "Compare JSON reports in one self-contained HTML page");
  o->report->add_option("reports", f.report_inputs, "JSON reports")->required()->check(CLI::ExistingFile);
  o->report->add_option("-o,--output", f.html_output, "HTML file (default bench-report.html)");
  o->report->add_option("--title", f.title, "Page title");

  return [o]() -> int {
    if (o->report->parsed()) return run_report(*o);
    return run_bench(*o);
  };
}

}  // namespace llmd::loadgen

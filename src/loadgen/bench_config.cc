#include "loadgen/bench_config.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "config/config.h"

namespace llmd::loadgen {

namespace {

using Seconds = std::chrono::duration<double>;

constexpr config::EnumName<ApiKind> kApiNames[] = {{"completions", ApiKind::kCompletions},
                                                   {"completion", ApiKind::kCompletions},
                                                   {"chat", ApiKind::kChatCompletions}};
constexpr config::EnumName<WorkloadKind> kWorkloadNames[] = {
    {"shared_prefix", WorkloadKind::kSharedPrefix},
    {"random", WorkloadKind::kRandom},
    {"chatbot", WorkloadKind::kChatbot},
    {"code_completion", WorkloadKind::kCodeCompletion},
    {"summarization", WorkloadKind::kSummarization}};
constexpr config::EnumName<LoadKind> kLoadNames[] = {{"constant", LoadKind::kConstant},
                                                     {"poisson", LoadKind::kPoisson},
                                                     {"concurrent", LoadKind::kConcurrent},
                                                     {"sweep", LoadKind::kSweep}};
constexpr config::EnumName<bool> kSweepTypes[] = {{"linear", false}, {"geometric", true}};

void decode_api(config::MapReader& m, RequestOptions& r, std::map<std::string, std::string>& headers) {
  m.read("type", r.api, kApiNames);
  m.read("streaming", r.stream);
  m.read("model", r.model);
  m.read("ignore_eos", r.ignore_eos);
  m.read("headers", headers);
}

void decode_distribution(config::MapReader& m, std::string_view key, LengthDistribution& out) {
  std::string spec;
  if (!m.read(key, spec)) return;
  auto d = parse_distribution(spec, fmt::format("{}.{}", m.path(), key));
  if (!d) {
    m.error(key, d.error().message);
    return;
  }
  out = *d;
}

void decode_workload(config::MapReader& m, WorkloadSpec& w) {
  if (m.read("type", w.kind, kWorkloadNames) && w.kind != WorkloadKind::kSharedPrefix &&
      w.kind != WorkloadKind::kRandom) {
    w.random = synthetic_profile(w.kind);
  }
  m.read("seed", w.seed);
  {
    auto s = m.map("shared_prefix");
    s.read("num_groups", w.shared_prefix.num_groups);
    s.read("prompts_per_group", w.shared_prefix.prompts_per_group);
    s.read("system_prompt_len", w.shared_prefix.system_prompt_len);
    s.read("question_len", w.shared_prefix.question_len);
    s.read("output_len", w.shared_prefix.output_len);
    s.read("turns", w.shared_prefix.turns);
  }
  auto r = m.map("random");
  decode_distribution(r, "input", w.random.input);
  decode_distribution(r, "output", w.random.output);
  r.read("num_prompts", w.random.num_prompts);
}

void decode_stage(config::MapReader& m, Stage& s) {
  m.read("rate", s.rate);
  m.read("concurrency", s.concurrency);
  Seconds d{s.duration_s};
  if (m.read("duration", d)) s.duration_s = d.count();
  m.read("num_requests", s.num_requests);
}

}  // namespace

// Found by ADL when decoding std::vector<Stage>.
void decode(config::MapReader& m, Stage& s) { decode_stage(m, s); }

namespace {

void decode_load(config::MapReader& m, BenchConfig& c) {
  LoadSpec& l = c.load;
  m.read("type", l.kind, kLoadNames);
  m.read("stages", l.stages);
  if (m.has("warmup")) {
    Stage w;
    auto wm = m.map("warmup");
    decode_stage(wm, w);
    l.warmup = w;
  }
  {
    auto s = m.map("sweep");
    s.read("num_stages", l.sweep.num_stages);
    Seconds d{l.sweep.stage_duration_s};
    if (s.read("stage_duration", d)) l.sweep.stage_duration_s = d.count();
    s.read("type", l.sweep.geometric, kSweepTypes);
    s.read("probe_concurrency", l.sweep.probe_concurrency);
    Seconds p{l.sweep.probe_duration_s};
    if (s.read("probe_duration", p)) l.sweep.probe_duration_s = p.count();
    s.read("arrivals", l.sweep.arrivals, kLoadNames);
  }
  m.read("max_inflight", c.max_inflight);
  m.read("timeout", c.timeout);
  m.read("connect_timeout", c.connect_timeout);
}

void decode_slo(config::MapReader& m, SloSpec& slo) {
  Seconds v{0};
  if (m.read("ttft", v)) slo.ttft_s = v.count();
  if (m.read("tpot", v)) slo.tpot_s = v.count();
}

void decode_output(config::MapReader& m, OutputSpec& o) {
  m.read("output", o.report);
  m.read("requests_jsonl", o.requests_jsonl);
  m.read("requests_csv", o.requests_csv);
  m.read("description", o.description);
  m.read("keywords", o.keywords);
}

}  // namespace

void decode(config::MapReader& m, BenchConfig& c) {
  m.read("targets", c.targets);
  {
    auto api = m.map("api");
    decode_api(api, c.request, c.headers);
  }
  {
    auto data = m.map("data");
    decode_workload(data, c.workload);
    data.read("tokenizer", c.tokenizer);
  }
  {
    auto load = m.map("load");
    decode_load(load, c);
  }
  {
    auto slo = m.map("slo");
    decode_slo(slo, c.slo);
  }
  auto report = m.map("report");
  decode_output(report, c.output);
}

Result<BenchConfig> parse_bench_config(std::string_view text, std::string_view source_name) {
  return config::load_text<BenchConfig>(text, source_name);
}

Result<BenchConfig> load_bench_config(const std::string& path) { return config::load<BenchConfig>(path); }

Result<void> BenchConfig::validate() const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kConfig, std::move(m)); };
  if (targets.empty()) return bad("targets: at least one target URL is required (--url)");
  if (request.model.empty()) return bad("api.model: a model name is required (--model)");
  if (auto v = workload.validate(); !v) return v;
  if (auto v = load.validate(); !v) return v;
  if (max_inflight == 0 || max_inflight > 1'000'000) return bad("load.max_inflight: must be in [1, 1000000]");
  if (!(timeout.count() > 0)) return bad("load.timeout: must be positive");
  if (!(connect_timeout.count() > 0)) return bad("load.connect_timeout: must be positive");
  if (slo.ttft_s && !request.stream)
    return bad("slo.ttft: needs streaming (TTFT is not measured without it)");
  if (slo.ttft_s && !(*slo.ttft_s > 0)) return bad("slo.ttft: must be positive");
  if (slo.tpot_s && !(*slo.tpot_s > 0)) return bad("slo.tpot: must be positive");
  for (const auto& [k, v] : headers) {
    if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos) {
      return bad(fmt::format("api.headers[\"{}\"]: not a valid header", k));
    }
  }
  return {};
}

Result<double> parse_seconds(std::string_view text, std::string_view path) {
  double scale = 1e-3;  // bare numbers are milliseconds
  std::string_view num = text;
  if (num.ends_with("ms")) {
    num.remove_suffix(2);
  } else if (num.ends_with("us")) {
    num.remove_suffix(2);
    scale = 1e-6;
  } else if (num.ends_with("s")) {
    num.remove_suffix(1);
    scale = 1;
  } else if (num.ends_with("m")) {
    num.remove_suffix(1);
    scale = 60;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || ec != std::errc() || ptr != num.data() + num.size() || !std::isfinite(v) || v < 0) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}: expected a duration like 500ms, 1.5s or 2m (got '{}')", path, text));
  }
  return v * scale;
}

}  // namespace llmd::loadgen

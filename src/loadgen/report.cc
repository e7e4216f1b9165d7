#include "loadgen/report.h"

#include <cmath>
#include <ctime>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace llmd::loadgen {

namespace json = boost::json;

std::string_view to_string(StageKind kind) {
  switch (kind) {
    case StageKind::kWarmup:
      return "warmup";
    case StageKind::kProbe:
      return "probe";
    case StageKind::kMeasure:
      return "measure";
  }
  return "measure";
}

std::string iso8601_duration(double seconds) { return fmt::format("PT{:.3f}S", std::max(0.0, seconds)); }

std::string iso8601_time(Nanos wall) {
  const int64_t ns = wall.count();
  const time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  const int millis = static_cast<int>((ns / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

namespace {

// A v0.2 Statistics object; absent (null) when there were no samples, since `mean` is required.
json::value stats_json(const Stats& s, std::string_view units) {
  if (s.count == 0) return nullptr;
  return json::object{{"units", units}, {"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min},
                      {"p10", s.p10},   {"p25", s.p25},   {"p50", s.p50},       {"p75", s.p75},
                      {"p90", s.p90},   {"p95", s.p95},   {"p99", s.p99},       {"p99p9", s.p999},
                      {"max", s.max}};
}

void put_if(json::object& o, std::string_view key, json::value v) {
  if (!v.is_null()) o[key] = std::move(v);
}

json::object rate_json(double v, std::string_view units) {
  return json::object{{"units", units}, {"mean", v}};
}

json::object aggregate_json(const Summary& s) {
  json::object requests{{"total", s.total}, {"failures", s.failed}};
  put_if(requests, "input_length", stats_json(s.input_len, "count"));
  put_if(requests, "output_length", stats_json(s.output_len, "count"));
  json::object latency;
  put_if(latency, "time_to_first_token", stats_json(s.ttft, "s"));
  put_if(latency, "time_per_output_token", stats_json(s.tpot, "s/token"));
  put_if(latency, "inter_token_latency", stats_json(s.itl, "s/token"));
  put_if(latency, "normalized_time_per_output_token", stats_json(s.ntpot, "s/token"));
  put_if(latency, "request_latency", stats_json(s.e2e, "s"));
  json::object throughput{{"request_rate", rate_json(s.request_rate, "queries/s")},
                          {"input_token_rate", rate_json(s.input_token_rate, "tokens/s")},
                          {"output_token_rate", rate_json(s.output_token_rate, "tokens/s")},
                          {"total_token_rate", rate_json(s.total_token_rate, "tokens/s")}};
  return json::object{{"requests", std::move(requests)},
                      {"latency", std::move(latency)},
                      {"throughput", std::move(throughput)}};
}

json::object errors_json(const Summary& s) {
  json::object o;
  for (const auto& [type, n] : s.errors) o[type] = n;
  return o;
}

json::object extras_json(const Summary& s, const SloSpec& slo) {
  json::object goodput{{"slo_set", s.slo_set}};
  if (s.slo_set) {
    if (slo.ttft_s) goodput["slo_ttft_s"] = *slo.ttft_s;
    if (slo.tpot_s) goodput["slo_tpot_s"] = *slo.tpot_s;
    goodput["good_requests"] = s.good_requests;
    goodput["request_goodput"] = rate_json(s.goodput_rate, "queries/s");
    goodput["token_goodput"] = rate_json(s.goodput_token_rate, "tokens/s");
    goodput["goodput_fraction"] = s.goodput_fraction;
  }
  json::array cdf;
  for (double q : s.ttft_quantiles) cdf.push_back(q);
  json::object o{{"duration_s", s.duration_s},
                 {"succeeded", s.succeeded},
                 {"errors", errors_json(s)},
                 {"goodput", std::move(goodput)},
                 {"tokens", json::object{{"input", s.input_tokens},
                                         {"output", s.output_tokens},
                                         {"cached", s.cached_tokens},
                                         {"cache_hit_fraction", s.cache_hit_fraction}}},
                 {"ttft_quantiles_s", std::move(cdf)}};
  put_if(o, "schedule_lag", stats_json(s.schedule_lag, "s"));
  return o;
}

json::object seq_len_json(const LengthDistribution& d) {
  json::object o;
  switch (d.kind) {
    case DistributionKind::kFixed:
      o["distribution"] = "fixed";
      break;
    case DistributionKind::kUniform:
      o["distribution"] = "uniform";
      break;
    case DistributionKind::kNormal:
      o["distribution"] = "gaussian";
      break;
    case DistributionKind::kLognormal:
      o["distribution"] = "other";
      break;
  }
  o["value"] = d.mean;
  if (d.kind == DistributionKind::kNormal || d.kind == DistributionKind::kLognormal) o["std_dev"] = d.stddev;
  if (d.kind != DistributionKind::kFixed) {
    o["min"] = d.min;
    o["max"] = std::max<uint32_t>(d.max, 1);
  }
  return o;
}

json::object stage_load_json(LoadKind arrivals, const Stage& st) {
  json::object o{{"type", to_string(arrivals)}};
  if (arrivals == LoadKind::kConcurrent) {
    o["concurrency"] = st.concurrency;
  } else {
    o["rate_qps"] = st.rate;
  }
  if (st.duration_s > 0) o["duration_s"] = st.duration_s;
  if (st.num_requests > 0) o["num_requests"] = st.num_requests;
  return o;
}

json::object native_config_json(const RunInfo& info) {
  const auto& w = info.workload;
  json::object workload{{"type", to_string(w.kind)}, {"seed", w.seed}, {"tokenizer", info.tokenizer}};
  if (w.kind == WorkloadKind::kSharedPrefix) {
    const auto& s = w.shared_prefix;
    workload["shared_prefix"] = json::object{{"num_groups", s.num_groups},
                                             {"prompts_per_group", s.prompts_per_group},
                                             {"system_prompt_len", s.system_prompt_len},
                                             {"question_len", s.question_len},
                                             {"output_len", s.output_len},
                                             {"turns", s.turns}};
  } else {
    workload["random"] = json::object{{"input", w.random.input.to_spec()},
                                      {"output", w.random.output.to_spec()},
                                      {"num_prompts", w.random.num_prompts}};
  }
  json::array stages;
  for (const auto& st : info.load.stages) stages.push_back(stage_load_json(info.load.kind, st));
  json::object load{{"type", to_string(info.load.kind)}, {"stages", std::move(stages)}};
  if (info.load.warmup) load["warmup"] = stage_load_json(info.load.kind, *info.load.warmup);
  if (info.load.kind == LoadKind::kSweep) {
    const auto& sw = info.load.sweep;
    load["sweep"] = json::object{{"num_stages", sw.num_stages},
                                 {"stage_duration_s", sw.stage_duration_s},
                                 {"type", sw.geometric ? "geometric" : "linear"},
                                 {"probe_concurrency", sw.probe_concurrency},
                                 {"probe_duration_s", sw.probe_duration_s},
                                 {"arrivals", to_string(sw.arrivals)}};
  }
  json::array targets;
  for (const auto& t : info.targets) targets.push_back(json::string(t));
  json::object api{{"type", to_string(info.request.api)},
                   {"streaming", info.request.stream},
                   {"model", info.request.model},
                   {"ignore_eos", info.request.ignore_eos}};
  return json::object{{"targets", std::move(targets)},
                      {"api", std::move(api)},
                      {"data", std::move(workload)},
                      {"load", std::move(load)}};
}

json::object standardized_json(const RunResult& run) {
  const auto& info = run.info;
  const auto& w = info.workload;
  json::object o{{"tool", "llmd-bench"},
                 {"tool_version", "0.1.0"},
                 {"parallelism", 1},
                 {"source", "random"},
                 {"stage", 0}};
  if (w.kind == WorkloadKind::kSharedPrefix) {
    const auto& s = w.shared_prefix;
    o["input_seq_len"] = seq_len_json(LengthDistribution::fixed(s.system_prompt_len + s.question_len));
    o["output_seq_len"] = seq_len_json(LengthDistribution::fixed(s.output_len));
    o["prefix"] = json::object{{"prefix_len", seq_len_json(LengthDistribution::fixed(s.system_prompt_len))},
                               {"num_groups", s.num_groups},
                               {"num_users_per_group", s.prompts_per_group},
                               {"num_prefixes", 1}};
    if (s.turns > 1) {
      o["multi_turn"] =
          json::object{{"enabled", true}, {"max_turns", seq_len_json(LengthDistribution::fixed(s.turns))}};
    }
  } else {
    o["input_seq_len"] = seq_len_json(w.random.input);
    o["output_seq_len"] = seq_len_json(w.random.output);
  }
  // A single measured stage has one rate or concurrency; a ladder has none that represents it.
  const StageResult* only = nullptr;
  int measured = 0;
  for (const auto& st : run.stages) {
    if (st.kind == StageKind::kMeasure) {
      only = &st;
      ++measured;
    }
  }
  if (measured == 1) {
    if (only->arrivals == LoadKind::kConcurrent) {
      o["concurrency"] = only->stage.concurrency;
    } else if (only->stage.rate > 0) {
      o["rate_qps"] = only->stage.rate;
    }
  }
  return o;
}

std::string fmt_opt(const std::optional<double>& v) { return v ? fmt::format("{:.6f}", *v) : std::string(); }

json::value opt_json(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

}  // namespace

json::value to_report_json(const RunResult& run) {
  const auto& info = run.info;
  json::array keywords;
  for (const auto& k : info.keywords) keywords.push_back(json::string(k));
  json::object run_obj{
      {"uid", info.uid},
      {"eid", info.uid},
      {"description", info.description},
      {"keywords", std::move(keywords)},
      {"time", json::object{{"start", iso8601_time(info.wall_start)},
                            {"end", iso8601_time(info.wall_end)},
                            {"duration", iso8601_duration(to_seconds(info.wall_end - info.wall_start))}}}};
  json::object load{{"metadata", json::object{{"schema_version", "0.0.1"},
                                              {"description", fmt::format("llmd bench {} workload, {} load",
                                                                          to_string(info.workload.kind),
                                                                          to_string(info.load.kind))}}},
                    {"standardized", standardized_json(run)},
                    {"native", json::object{{"config", native_config_json(info)}}}};
  json::array stages;
  for (const auto& st : run.stages) {
    json::object so{{"stage", st.index},
                    {"kind", to_string(st.kind)},
                    {"load", stage_load_json(st.arrivals, st.stage)},
                    {"request_performance", json::object{{"aggregate", aggregate_json(st.summary)}}}};
    for (auto& [k, v] : extras_json(st.summary, info.slo)) so[k] = v;
    stages.push_back(std::move(so));
  }
  json::object bench = extras_json(run.overall, info.slo);
  bench["stages"] = std::move(stages);
  bench["generator"] = json::object{{"dropped", run.generator.dropped},
                                    {"max_inflight_seen", run.generator.max_inflight_seen},
                                    {"connects", run.generator.connects},
                                    {"connect_failures", run.generator.connect_failures},
                                    {"reused_connections", run.generator.reused_connections}};
  json::object results{{"request_performance", json::object{{"aggregate", aggregate_json(run.overall)}}},
                       {"profiling", json::object{{"llmd_bench", std::move(bench)}}}};
  return json::object{{"version", "0.2"},
                      {"run", std::move(run_obj)},
                      {"scenario", json::object{{"load", std::move(load)}}},
                      {"results", std::move(results)}};
}

std::string record_jsonl(const RequestRecord& r, Nanos origin) {
  const RequestMetrics m = derive_metrics(r);
  json::array itl;
  if (r.streamed) {
    for (size_t i = 1; i < r.token_times.size(); ++i)
      itl.push_back(to_seconds(r.token_times[i] - r.token_times[i - 1]));
  }
  json::object o{{"id", r.id},
                 {"stage", r.stage},
                 {"prompt", r.prompt},
                 {"upstream", r.upstream},
                 {"scheduled_s", to_seconds(r.scheduled - origin)},
                 {"start_s", to_seconds(r.start - origin)},
                 {"end_s", to_seconds(r.end - origin)},
                 {"status", to_string(r.status)},
                 {"http_status", r.http_status},
                 {"ttft_s", opt_json(m.ttft)},
                 {"tpot_s", opt_json(m.tpot)},
                 {"ntpot_s", opt_json(m.ntpot)},
                 {"e2e_s", m.e2e},
                 {"input_tokens", r.input_tokens},
                 {"output_tokens", r.output_tokens},
                 {"cached_tokens", r.cached_tokens},
                 {"itl_s", std::move(itl)}};
  if (!r.ok()) {
    o["error_type"] = r.error_type();
    o["error"] = r.error;
  }
  return json::serialize(o);
}

std::string_view csv_header() {
  return "id,stage,prompt,upstream,scheduled_s,start_s,end_s,status,http_status,ttft_s,tpot_s,ntpot_s,e2e_s,"
         "itl_mean_s,input_tokens,output_tokens,cached_tokens,error_type\n";
}

std::string record_csv(const RequestRecord& r, Nanos origin) {
  const RequestMetrics m = derive_metrics(r);
  std::optional<double> itl_mean;
  if (r.streamed && r.token_times.size() >= 2) {
    itl_mean = to_seconds(r.token_times.back() - r.token_times.front()) /
               static_cast<double>(r.token_times.size() - 1);
  }
  // error_type is built from fixed words and digits, so it never needs CSV quoting.
  return fmt::format("{},{},{},{},{:.6f},{:.6f},{:.6f},{},{},{},{},{},{:.6f},{},{},{},{},{}\n", r.id, r.stage,
                     r.prompt, r.upstream, to_seconds(r.scheduled - origin), to_seconds(r.start - origin),
                     to_seconds(r.end - origin), to_string(r.status), r.http_status, fmt_opt(m.ttft),
                     fmt_opt(m.tpot), fmt_opt(m.ntpot), m.e2e, fmt_opt(itl_mean), r.input_tokens,
                     r.output_tokens, r.cached_tokens, r.ok() ? std::string() : r.error_type());
}

namespace {

struct Reader {
  std::string error;

  const json::value* at(const json::value* v, std::string_view key) {
    if (v == nullptr || !v->is_object()) return nullptr;
    return v->get_object().if_contains(key);
  }
  std::optional<double> number(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (v->is_double()) return v->get_double();
    if (v->is_int64()) return static_cast<double>(v->get_int64());
    if (v->is_uint64()) return static_cast<double>(v->get_uint64());
    return std::nullopt;
  }
  std::optional<double> stat(const json::value* latency, std::string_view metric, std::string_view field) {
    return number(at(at(latency, metric), field));
  }
};

// Fills a point from a v0.2 `aggregate` object.
bool read_aggregate(Reader& rd, const json::value* agg, ReportPoint& p, std::string_view path) {
  if (agg == nullptr || !agg->is_object()) {
    rd.error = fmt::format("{}: expected an object", path);
    return false;
  }
  const auto* latency = rd.at(agg, "latency");
  const auto* throughput = rd.at(agg, "throughput");
  const auto* requests = rd.at(agg, "requests");
  p.request_rate = rd.number(rd.at(rd.at(throughput, "request_rate"), "mean")).value_or(0);
  p.output_token_rate = rd.number(rd.at(rd.at(throughput, "output_token_rate"), "mean")).value_or(0);
  p.total_token_rate = rd.number(rd.at(rd.at(throughput, "total_token_rate"), "mean")).value_or(0);
  const double total = rd.number(rd.at(requests, "total")).value_or(0);
  const double failures = rd.number(rd.at(requests, "failures")).value_or(0);
  p.total = total > 0 && total < 1e18 ? static_cast<uint64_t>(total) : 0;
  p.failures = failures > 0 && failures < 1e18 ? static_cast<uint64_t>(failures) : 0;
  p.ttft_p50 = rd.stat(latency, "time_to_first_token", "p50");
  p.ttft_p90 = rd.stat(latency, "time_to_first_token", "p90");
  p.ttft_p99 = rd.stat(latency, "time_to_first_token", "p99");
  p.tpot_p50 = rd.stat(latency, "time_per_output_token", "p50");
  p.tpot_p90 = rd.stat(latency, "time_per_output_token", "p90");
  p.itl_p50 = rd.stat(latency, "inter_token_latency", "p50");
  p.e2e_p50 = rd.stat(latency, "request_latency", "p50");
  p.e2e_p90 = rd.stat(latency, "request_latency", "p90");
  return true;
}

std::vector<double> read_quantiles(Reader& rd, const json::value* v) {
  std::vector<double> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& q : v->get_array()) {
    auto n = rd.number(&q);
    if (!n || !std::isfinite(*n)) return {};
    out.push_back(*n);
  }
  if (out.size() != 101) return {};
  return out;
}

}  // namespace

Result<ParsedReport> parse_report(std::string_view json_text, std::string_view fallback_label) {
  boost::system::error_code ec;
  json::value doc = json::parse(json_text, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, fmt::format("not JSON: {}", ec.message()));
  Reader rd;
  auto fail = [&](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  if (!doc.is_object()) return fail("$: expected an object");
  const auto* version = rd.at(&doc, "version");
  if (version == nullptr || !version->is_string() || !version->get_string().starts_with("0.2")) {
    return fail("version: expected \"0.2\" or \"0.2.x\"");
  }
  ParsedReport out;
  const auto* desc = rd.at(rd.at(&doc, "run"), "description");
  out.label = desc && desc->is_string() && !desc->get_string().empty() ? std::string(desc->get_string())
                                                                       : std::string(fallback_label);
  const auto* results = rd.at(&doc, "results");
  if (results == nullptr) return fail("results: missing");
  const auto* bench = rd.at(rd.at(results, "profiling"), "llmd_bench");
  const auto* stages = rd.at(bench, "stages");
  if (stages != nullptr && stages->is_array()) {
    size_t i = 0;
    for (const auto& st : stages->get_array()) {
      const std::string path = fmt::format("results.profiling.llmd_bench.stages[{}]", i++);
      const auto* kind = rd.at(&st, "kind");
      if (kind == nullptr || !kind->is_string()) return fail(path + ".kind: expected a string");
      if (kind->get_string() != "measure") continue;
      ReportPoint p;
      const auto* load = rd.at(&st, "load");
      p.stage = static_cast<uint32_t>(std::clamp(rd.number(rd.at(&st, "stage")).value_or(0), 0.0, 1e9));
      p.offered_rate = std::max(0.0, rd.number(rd.at(load, "rate_qps")).value_or(0));
      p.concurrency =
          static_cast<uint32_t>(std::clamp(rd.number(rd.at(load, "concurrency")).value_or(0), 0.0, 1e9));
      if (!read_aggregate(rd, rd.at(rd.at(&st, "request_performance"), "aggregate"), p,
                          path + ".request_performance.aggregate")) {
        return fail(rd.error);
      }
      const auto* good = rd.at(&st, "goodput");
      const auto* slo_set = rd.at(good, "slo_set");
      if (slo_set && slo_set->is_bool() && slo_set->get_bool()) {
        p.goodput_rate = rd.number(rd.at(rd.at(good, "request_goodput"), "mean")).value_or(0);
      }
      out.points.push_back(p);
    }
    out.ttft_quantiles = read_quantiles(rd, rd.at(bench, "ttft_quantiles_s"));
    return out;
  }
  // A plain v0.2 report: one point, at the standardized rate if it has one.
  ReportPoint p;
  const auto* std_load = rd.at(rd.at(rd.at(&doc, "scenario"), "load"), "standardized");
  p.offered_rate = std::max(0.0, rd.number(rd.at(std_load, "rate_qps")).value_or(0));
  p.concurrency =
      static_cast<uint32_t>(std::clamp(rd.number(rd.at(std_load, "concurrency")).value_or(0), 0.0, 1e9));
  if (!read_aggregate(rd, rd.at(rd.at(results, "request_performance"), "aggregate"), p,
                      "results.request_performance.aggregate")) {
    return fail(rd.error);
  }
  out.points.push_back(p);
  return out;
}

}  // namespace llmd::loadgen

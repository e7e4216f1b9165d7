#include "loadgen/console.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace llmd::loadgen {

namespace {

std::string ms(const Stats& s, double v) { return s.count ? fmt::format("{:.1f}", v * 1000) : "-"; }

std::string load_label(const StageResult& st) {
  if (st.arrivals == LoadKind::kConcurrent) return fmt::format("conc {}", st.stage.concurrency);
  return fmt::format("{} {:.4g}/s", st.arrivals == LoadKind::kPoisson ? "poisson" : "const", st.stage.rate);
}

std::string clock_text(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

std::string format_summary_table(const RunResult& run) {
  std::string out =
      fmt::format("{:<7} {:<8} {:<15} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}\n",
                  "stage", "kind", "load", "req/s", "out tok/s", "TTFT p50", "TTFT p90", "TTFT p99",
                  "TPOT p50", "ITL p50", "ITL p99", "E2E p50", "ok", "errors");
  auto row = [&](std::string_view stage, std::string_view kind, std::string_view load, const Summary& s) {
    out += fmt::format(
        "{:<7} {:<8} {:<15} {:>9.2f} {:>11.1f} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}\n",
        stage, kind, load, s.request_rate, s.output_token_rate, ms(s.ttft, s.ttft.p50),
        ms(s.ttft, s.ttft.p90), ms(s.ttft, s.ttft.p99), ms(s.tpot, s.tpot.p50), ms(s.itl, s.itl.p50),
        ms(s.itl, s.itl.p99), ms(s.e2e, s.e2e.p50), s.succeeded, s.failed);
  };
  for (const auto& st : run.stages)
    row(fmt::format("{}", st.index), to_string(st.kind), load_label(st), st.summary);
  row("all", "measure", "", run.overall);
  out += "(latencies in ms)\n";
  const Summary& o = run.overall;
  if (!o.errors.empty()) {
    out += "errors:";
    for (const auto& [type, n] : o.errors) out += fmt::format(" {}={}", type, n);
    out += "\n";
  }
  if (o.slo_set) {
    out +=
        fmt::format("goodput: {} of {} requests met the SLOs ({:.1f}%), {:.2f} req/s, {:.1f} output tok/s\n",
                    o.good_requests, o.total, o.goodput_fraction * 100, o.goodput_rate, o.goodput_token_rate);
  }
  out += fmt::format("tokens: input {} output {} cached {} (prefix-cache hit {:.1f}% of reported input)\n",
                     o.input_tokens, o.output_tokens, o.cached_tokens, o.cache_hit_fraction * 100);
  if (run.generator.dropped > 0) {
    out += fmt::format("generator: {} requests dropped at the in-flight bound; raise --max-inflight\n",
                       run.generator.dropped);
  }
  if (o.schedule_lag.count && o.schedule_lag.p99 > 0.01) {
    out += fmt::format("generator: p99 send lag {:.1f} ms behind schedule; the generator may be saturated\n",
                       o.schedule_lag.p99 * 1000);
  }
  return out;
}

std::optional<double> stage_progress(const ProgressSnapshot& s) {
  std::optional<double> p;
  if (s.stage_duration_s && *s.stage_duration_s > 0) p = s.elapsed_s / *s.stage_duration_s;
  if (s.stage_requests && *s.stage_requests > 0) {
    const double by_count = static_cast<double>(s.sent) / static_cast<double>(*s.stage_requests);
    p = p ? std::max(*p, by_count) : by_count;
  }
  if (p) p = std::clamp(*p, 0.0, 1.0);
  return p;
}

std::optional<double> stage_eta(const ProgressSnapshot& s) {
  std::optional<double> eta;
  if (s.stage_duration_s && *s.stage_duration_s > 0) eta = std::max(0.0, *s.stage_duration_s - s.elapsed_s);
  if (s.stage_requests && *s.stage_requests > 0 && s.sent > 0 && s.elapsed_s > 0) {
    const double send_rate = static_cast<double>(s.sent) / s.elapsed_s;
    const double left =
        static_cast<double>(*s.stage_requests - std::min(s.sent, *s.stage_requests)) / send_rate;
    eta = eta ? std::min(*eta, left) : left;
  }
  return eta;
}

std::string format_progress_bar(const ProgressSnapshot& s, int bar_width) {
  const auto p = stage_progress(s);
  std::string bar;
  if (p) {
    const int filled = std::clamp(static_cast<int>(std::lround(*p * bar_width)), 0, bar_width);
    bar = fmt::format("[{}{}] {:3.0f}% ", std::string(static_cast<size_t>(filled), '#'),
                      std::string(static_cast<size_t>(bar_width - filled), '.'), *p * 100);
  }
  const auto eta = stage_eta(s);
  return fmt::format("{}stage {}/{} {} | {:.1f} req/s | in-flight {} | errors {} | ETA {}", bar, s.stage + 1,
                     s.stages, s.stage_label, s.rate, s.in_flight, s.errors,
                     eta ? clock_text(*eta) : std::string("?"));
}

std::string format_progress_line(const ProgressSnapshot& s) {
  const auto eta = stage_eta(s);
  return fmt::format(
      "stage {}/{} ({}) t={:.1f}s sent={} done={} in_flight={} errors={} rate={:.1f}/s eta={}\n", s.stage + 1,
      s.stages, s.stage_label, s.elapsed_s, s.sent, s.completed, s.in_flight, s.errors, s.rate,
      eta ? clock_text(*eta) : std::string("?"));
}

}  // namespace llmd::loadgen

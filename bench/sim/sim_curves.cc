// Tabulates each simulator profile's behaviour in virtual time, for docs/simulator.md: TTFT against
// prompt length, ITL against batch size, throughput against concurrency, and the calibration
// scenarios whose published figures the profiles were fitted to. Deterministic; runs in seconds.
//
//   sim_curves [--svg-dir docs/img] [profile...]   (default: every built-in profile)
// With --svg-dir it also writes <profile>-{ttft,itl,throughput}.svg, the plots in docs/simulator.md.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <numeric>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/random.h"
#include "loadgen/svg_chart.h"
#include "sim/engine/engine.h"

namespace {

using namespace llmd;
using namespace llmd::sim;

struct Arrival {
  Nanos at{0};
  std::vector<uint32_t> prompt;
  uint32_t max_tokens = 1;
};

struct Stats {
  std::vector<double> ttft, itl, e2e;
  uint64_t output_tokens = 0;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t preemptions = 0;
  double seconds = 0;
  size_t finished = 0;
};

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Runs the engine in virtual time. `next` is called when a request finishes (closed loop) and may
// return a follow-up arrival; `arrivals` are open-loop arrivals sorted by time.
template <class Next>
Stats simulate(const Profile& profile, std::vector<Arrival> arrivals, Next&& next, Nanos horizon,
               size_t max_finished = SIZE_MAX, EngineConfig cfg = {}) {
  ManualClock clock;
  cfg.hash_seed = "0";
  cfg.kv_events = false;
  Engine engine(cfg, profile, clock);
  Stats s;
  std::sort(arrivals.begin(), arrivals.end(), [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
  std::deque<Arrival> pending(arrivals.begin(), arrivals.end());
  std::vector<TokenOutput> outs;
  auto admit = [&] {
    while (!pending.empty() && pending.front().at <= clock.now()) {
      Arrival a = std::move(pending.front());
      pending.pop_front();
      RequestSpec spec;
      spec.prompt = std::move(a.prompt);
      spec.max_tokens = a.max_tokens;
      spec.ignore_eos = true;
      spec.arrival = a.at;
      (void)engine.add_request(std::move(spec));
    }
  };
  while (clock.now() < horizon && s.finished < max_finished && (engine.has_work() || !pending.empty())) {
    admit();
    StepInfo info = engine.has_work() ? engine.begin_step() : StepInfo{};
    if (info.num_scheduled == 0) {
      if (pending.empty()) break;
      clock.set(std::max(clock.now(), pending.front().at));
      if (engine.has_work()) engine.end_step(outs);
      continue;
    }
    clock.advance(info.duration);
    outs.clear();
    engine.end_step(outs);
    for (const auto& o : outs) {
      ++s.output_tokens;
      if (o.num_output_tokens == 1) {
        s.ttft.push_back(to_seconds(o.times.first_token - o.times.arrival));
        s.prompt_tokens += o.prompt_tokens;
        s.cached_tokens += o.cached_tokens;
      } else {
        s.itl.push_back(to_seconds(o.time - o.previous_token_time));
      }
      if (o.finished) {
        ++s.finished;
        s.e2e.push_back(to_seconds(o.times.finished - o.times.arrival));
        if (auto a = next(clock.now())) {
          auto it = std::upper_bound(pending.begin(), pending.end(), a->at,
                                     [](Nanos t, const Arrival& x) { return t < x.at; });
          pending.insert(it, std::move(*a));
        }
      }
    }
  }
  s.seconds = to_seconds(clock.now());
  s.preemptions = engine.counters().preemptions;
  return s;
}

auto no_follow_up = [](Nanos) -> std::optional<Arrival> { return std::nullopt; };

uint32_t g_token = 1'000'000;  // distinct prompts never share blocks
std::vector<uint32_t> fresh(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (auto& t : v) t = g_token++;
  return v;
}

using Points = std::vector<std::pair<double, double>>;

Points ttft_table(const Profile& p) {
  Points pts;
  fmt::print(
      "TTFT of a single request (no queueing, no cache hits):\n\n| prompt tokens | TTFT (ms) "
      "|\n|---:|---:|\n");
  for (uint32_t n : {128u, 512u, 1024u, 2048u, 4096u, 8192u, 16384u, 32768u}) {
    if (n + 1 >= p.max_model_len) break;
    Stats s = simulate(p, {Arrival{Nanos{0}, fresh(n), 1}}, no_follow_up, std::chrono::hours(1));
    fmt::print("| {} | {:.1f} |\n", n, s.ttft.at(0) * 1e3);
    pts.emplace_back(n, s.ttft.at(0) * 1e3);
  }
  fmt::print("\n");
  return pts;
}

Points itl_table(const Profile& p) {
  Points pts;
  fmt::print(
      "ITL with a batch of B requests decoding together (1000-token prompts, 200 output tokens):\n\n"
      "| batch size | mean ITL (ms) | p50 ITL (ms) | output tok/s |\n|---:|---:|---:|---:|\n");
  for (uint32_t b : {1u, 8u, 32u, 64u, 128u, 256u}) {
    std::vector<Arrival> a;
    for (uint32_t i = 0; i < b; ++i) a.push_back(Arrival{Nanos{0}, fresh(1000), 200});
    Stats s = simulate(p, a, no_follow_up, std::chrono::hours(1));
    fmt::print("| {} | {:.2f} | {:.2f} | {:.0f} |\n", b, mean(s.itl) * 1e3, pct(s.itl, 0.5) * 1e3,
               static_cast<double>(s.output_tokens) / s.seconds);
    pts.emplace_back(b, mean(s.itl) * 1e3);
  }
  fmt::print("\n");
  return pts;
}

Points throughput_table(const Profile& p, uint32_t prompt, uint32_t output) {
  Points pts;
  fmt::print(
      "Closed loop: C clients, each sending the next request when the last ends ({}-token prompts, "
      "{} output tokens, 120 s or 3000 requests):\n\n"
      "| concurrency | output tok/s | req/s | mean TTFT (ms) | mean ITL (ms) | preemptions |\n"
      "|---:|---:|---:|---:|---:|---:|\n",
      prompt, output);
  for (uint32_t c : {1u, 8u, 32u, 64u, 128u, 256u}) {
    std::vector<Arrival> a;
    for (uint32_t i = 0; i < c; ++i) a.push_back(Arrival{Nanos{0}, fresh(prompt), output});
    auto follow = [&](Nanos now) -> std::optional<Arrival> { return Arrival{now, fresh(prompt), output}; };
    Stats s = simulate(p, a, follow, std::chrono::seconds(120), 3000);
    fmt::print("| {} | {:.0f} | {:.2f} | {:.0f} | {:.1f} | {} |\n", c,
               static_cast<double>(s.output_tokens) / s.seconds, static_cast<double>(s.finished) / s.seconds,
               mean(s.ttft) * 1e3, mean(s.itl) * 1e3, s.preemptions);
    pts.emplace_back(c, static_cast<double>(s.output_tokens) / s.seconds);
  }
  fmt::print("\n");
  return pts;
}

void peak_prefill(const Profile& p) {
  // Saturated with long prompts: every step is a full 8192-token chunk.
  std::vector<Arrival> a;
  for (int i = 0; i < 64; ++i)
    a.push_back(Arrival{Nanos{0}, fresh(std::min<uint32_t>(16384, p.max_model_len - 2)), 1});
  Stats s = simulate(p, a, no_follow_up, std::chrono::hours(1));
  fmt::print("Peak prefill throughput (64 long prompts queued at once): {:.0f} prompt tok/s\n\n",
             static_cast<double>(s.prompt_tokens) / s.seconds);
}

// The llm-d optimized-baseline workload as one replica sees it with prefix-aware routing:
// 150 groups over 8 replicas (~19 per replica) of a 6000-token shared prefix + 1200-token question,
// 1000 output tokens, Poisson arrivals.
void guide_workload(const Profile& p, double rate) {
  Rng rng(7);
  std::vector<std::vector<uint32_t>> prefixes;
  for (int g = 0; g < 19; ++g) prefixes.push_back(fresh(6000));
  std::vector<Arrival> a;
  double t = 0;
  while (t < 300) {
    t += -std::log(1 - rng.uniform()) / rate;
    auto prompt = prefixes[rng.below(prefixes.size())];
    auto q = fresh(1200);
    prompt.insert(prompt.end(), q.begin(), q.end());
    a.push_back(Arrival{std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(t)),
                        std::move(prompt), 1000});
  }
  Stats s = simulate(p, a, no_follow_up, std::chrono::seconds(400));
  fmt::print("| {:.2f} | {:.0f} | {:.1f} | {:.0f} | {:.0f} | {:.2f} | {} |\n", rate,
             static_cast<double>(s.output_tokens) / s.seconds, mean(s.itl) * 1e3, mean(s.ttft) * 1e3,
             pct(s.ttft, 0.9) * 1e3,
             s.prompt_tokens ? static_cast<double>(s.cached_tokens) / s.prompt_tokens : 0, s.preemptions);
}

}  // namespace

// The published figure each profile was calibrated to, as a dashed reference line where it is a
// curve of the same axes (docs/simulator.md gives the sources).
Points published_ttft(const Profile& p, const Points& sim) {
  Points pts;
  for (const auto& [n, ms] : sim) {
    (void)ms;
    if (p.name == "llama3-8b-h100") pts.emplace_back(n, 30 + 0.25 * n);          // 30 ms + 250 µs/token
    if (p.name == "qwen3-32b-h100-tp2") pts.emplace_back(n, n / 15928.0 * 1e3);  // peak prefill rate
  }
  return pts;
}

Points published_itl(const Profile& p, const Points& sim) {
  Points pts;
  if (p.name != "llama3-8b-h100") return pts;
  for (const auto& [b, ms] : sim) {
    (void)ms;
    pts.emplace_back(b, 12);  // ITL about 12 ms
  }
  return pts;
}

bool write_svg(const std::string& path, const std::string& svg) {
  std::ofstream out(path, std::ios::trunc);
  out << svg;
  if (!out) fmt::print(stderr, "cannot write {}\n", path);
  return static_cast<bool>(out);
}

void write_plots(const std::string& dir, const Profile& p, const Points& ttft, const Points& itl,
                 const Points& throughput) {
  using loadgen::ChartSeries;
  auto chart = [&](const char* what, const char* title, const char* x, const char* y, const Points& sim,
                   const Points& published, const char* published_name) {
    std::vector<ChartSeries> series{{"llmd sim", loadgen::chart_color(0), false, sim}};
    if (!published.empty()) series.push_back({published_name, loadgen::chart_color(1), true, published});
    write_svg(fmt::format("{}/{}-{}.svg", dir, p.name, what),
              loadgen::svg_line_chart(fmt::format("{}: {}", p.name, title), x, y, series, true));
  };
  const char* ttft_ref = p.name == "llama3-8b-h100" ? "published: 30 ms + 250 µs/token"
                                                    : "published peak prefill (15,928 tok/s)";
  chart("ttft", "TTFT vs prompt length (single request)", "prompt tokens", "TTFT (ms)", ttft,
        published_ttft(p, ttft), ttft_ref);
  chart("itl", "mean ITL vs batch size (1000-token prompts)", "requests decoding together", "mean ITL (ms)",
        itl, published_itl(p, itl), "published: about 12 ms");
  chart("throughput", "output throughput vs concurrency (closed loop)", "concurrent clients",
        "output tokens/s", throughput, {}, "");
}

int main(int argc, char** argv) {
  std::vector<std::string> names;
  std::string svg_dir;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--svg-dir" && i + 1 < argc) {
      svg_dir = argv[++i];
    } else {
      names.emplace_back(argv[i]);
    }
  }
  if (names.empty()) names = builtin_profile_names();
  for (const auto& name : names) {
    auto p = load_profile(name);
    if (!p) {
      fmt::print(stderr, "{}\n", p.error().message);
      return 2;
    }
    fmt::print("### {}\n\n{}\n\n", p->name, p->description);
    const Points ttft = ttft_table(*p);
    const Points itl = itl_table(*p);
    const Points throughput = throughput_table(*p, 1000, 200);
    if (!svg_dir.empty()) write_plots(svg_dir, *p, ttft, itl, throughput);
    peak_prefill(*p);
    if (p->name == "qwen3-32b-h100-tp2") {
      fmt::print(
          "The optimized-baseline workload on one replica (19 groups × 5 prompts of 6000 shared + 1200 "
          "unique tokens, 1000 output tokens, Poisson, 300 s):\n\n"
          "| req/s | output tok/s | mean ITL (ms) | mean TTFT (ms) | p90 TTFT (ms) | cached fraction | "
          "preemptions |\n|---:|---:|---:|---:|---:|---:|---:|\n");
      for (double rate : {0.5, 1.0, 1.5, 1.65, 1.8}) guide_workload(*p, rate);
      fmt::print("\n");
    }
  }
  return 0;
}

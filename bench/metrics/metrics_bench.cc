// Metrics microbenchmarks: parsing a real-size vLLM /metrics page (goal < 50 us), hot-path updates,
// and exposing a registry of about 300 series. Baselines in the same run: scanning the page's lines
// with memchr (the floor for any line-based parser) and a plain non-atomic increment.

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "metrics/parser.h"
#include "metrics/registry.h"

namespace {

using namespace llmd::metrics;

const std::string& vllm_page() {
  static const std::string text = [] {
    std::ifstream f(std::string(LLMD_METRICS_TESTDATA_DIR) + "/vllm_metrics.txt", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }();
  return text;
}

void BM_BaselineScanLines(benchmark::State& state) {
  const std::string& text = vllm_page();
  for (auto _ : state) {
    size_t lines = 0;
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      ++lines;
      p = nl ? nl + 1 : end;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_BaselineScanLines);

void BM_ParseVllmPage(benchmark::State& state) {
  const std::string& text = vllm_page();
  Page page;
  if (!parse(text, page)) {
    state.SkipWithError("fixture did not parse");
    return;
  }
  const size_t series = page.samples().size();
  for (auto _ : state) {
    auto r = parse(text, page);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(page.samples().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * series));  // series/s
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_ParseVllmPage)->Unit(benchmark::kMicrosecond);

// What the EPP scraper does: keep only the handful of metrics it reads.
void BM_ParseVllmPageFiltered(benchmark::State& state) {
  const std::string& text = vllm_page();
  ScrapeFilter filter{"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
                      "vllm:lora_requests_info", "vllm:cache_config_info"};
  Page page;
  for (auto _ : state) {
    auto r = parse(text, page, {.filter = &filter});
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(page.samples().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["kept"] = static_cast<double>(page.samples().size());
}
BENCHMARK(BM_ParseVllmPageFiltered)->Unit(benchmark::kMicrosecond);

void BM_BaselinePlainIncrement(benchmark::State& state) {
  uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_BaselinePlainIncrement);

// One series per thread (the intended use: each worker resolves its own handles).
void BM_CounterInc(benchmark::State& state) {
  static Registry registry;
  static CounterFamily* family = *registry.counter_family("bench_inc_total", "B.", {"thread"});
  Counter& c = family->with({std::to_string(state.thread_index())});
  for (auto _ : state) c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

// One series shared by all threads: the contended worst case.
void BM_CounterIncShared(benchmark::State& state) {
  static Registry registry;
  static Counter* c = *registry.counter("bench_shared_total", "B.");
  for (auto _ : state) c->inc();
  benchmark::DoNotOptimize(c->value());
}
BENCHMARK(BM_CounterIncShared)->Threads(1)->Threads(2);

void BM_CounterAddDouble(benchmark::State& state) {
  Counter c;
  for (auto _ : state) c.add(0.001);
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterAddDouble);

void BM_GaugeSet(benchmark::State& state) {
  Gauge g;
  double v = 0;
  for (auto _ : state) g.set(v += 1);
  benchmark::DoNotOptimize(g.value());
}
BENCHMARK(BM_GaugeSet);

void BM_HistogramObserve(benchmark::State& state) {
  const std::vector<double> ttft = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                    1,     2.5,   5,    7.5,  10,   20,   40,   80,  160,  640, 2560};
  Histogram h(ttft);
  double v = 0.0001;
  for (auto _ : state) {
    h.observe(v);
    v = v < 3000 ? v * 1.7 : 0.0001;  // sweep every bucket
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramObserve);

// A registry shaped like a vLLM page: 12 histograms of ~20 buckets with two labels, plus counters and
// gauges, about 300 series in all.
void BM_Expose300Series(benchmark::State& state) {
  Registry registry;
  std::vector<double> bounds = {0.3, 0.5, 0.8, 1,  1.5, 2,   2.5, 5,   10,  15,
                                20,  30,  40,  50, 60,  120, 240, 480, 960, 1920};
  for (int h = 0; h < 12; ++h) {
    auto f = *registry.histogram_family("bench:latency_" + std::to_string(h) + "_seconds", "Latency.",
                                        {"model_name", "engine"}, bounds);
    auto& child = f->with({"meta-llama/Llama-3.1-8B-Instruct", "0"});
    for (int i = 0; i < 100; ++i) child.observe(i * 0.37);
  }
  for (int c = 0; c < 20; ++c) {
    auto f = *registry.counter_family("bench:counter_" + std::to_string(c) + "_total", "Counter.",
                                      {"model_name", "engine"});
    f->with({"meta-llama/Llama-3.1-8B-Instruct", "0"}).inc(123456 * c);
  }
  for (int g = 0; g < 20; ++g) {
    auto f = *registry.gauge_family("bench:gauge_" + std::to_string(g), "Gauge.", {"model_name", "engine"});
    f->with({"meta-llama/Llama-3.1-8B-Instruct", "0"}).set(0.123 * g);
  }
  std::string out;
  registry.expose_to(out);
  Page page;
  const size_t series = parse(out, page) ? page.samples().size() : 0;
  for (auto _ : state) {
    out.clear();
    registry.expose_to(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * series));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_Expose300Series)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

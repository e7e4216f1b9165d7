// Per-token and per-request costs of the load generator's hot path: SSE framing plus chunk parsing
// for each streamed token, and the end-of-stage aggregation. The end-to-end capacity (req/s and
// tokens/s against `llmd sim`) is measured by bench/loadgen/run.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "http/sse.h"
#include "loadgen/metrics.h"
#include "loadgen/openai.h"

namespace {

using namespace llmd::loadgen;

const std::string kChunk = R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"sim-instant",)"
                           R"("choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":null}]})";

// One streamed token: SSE bytes in, one token timestamp out.
void BM_StreamedToken(benchmark::State& state) {
  ChunkParser parser;
  llmd::http::SseParser sse;
  const std::string wire = "data: " + kChunk + "\n\n";
  uint64_t tokens = 0;
  const std::function<void(const llmd::http::SseEvent&)> on_event = [&](const llmd::http::SseEvent& e) {
    auto info = parser.parse(e.data);
    if (info && info->has_content) ++tokens;
  };
  for (auto _ : state) sse.feed(wire, on_event);
  benchmark::DoNotOptimize(tokens);
  state.SetItemsProcessed(static_cast<int64_t>(tokens));
}
BENCHMARK(BM_StreamedToken);

void BM_ChunkParse(benchmark::State& state) {
  ChunkParser parser;
  for (auto _ : state) benchmark::DoNotOptimize(parser.parse(kChunk));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChunkParse);

// Aggregating a stage of N requests of 64 tokens each.
void BM_Summarize(benchmark::State& state) {
  std::vector<RequestRecord> records(static_cast<size_t>(state.range(0)));
  int64_t t = 0;
  for (auto& r : records) {
    r.start = std::chrono::microseconds(t);
    for (int i = 0; i < 64; ++i) r.token_times.push_back(std::chrono::microseconds(t += 100));
    r.end = std::chrono::microseconds(t);
    r.output_tokens = 64;
    r.input_tokens = 512;
  }
  SloSpec slo;
  slo.ttft_s = 0.1;
  for (auto _ : state) benchmark::DoNotOptimize(summarize(records, slo));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Summarize)->Arg(10'000)->Arg(100'000);

}  // namespace

BENCHMARK_MAIN();

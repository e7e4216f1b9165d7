// Single-thread encode throughput of llmd's tokenizer over a fixed set of documents.
// usage: tokenizer_throughput TOKENIZER_JSON DOCS_JSON [MIN_SECONDS]
// DOCS_JSON is a JSON array of strings. After one warm-up pass, times whole passes until MIN_SECONDS
// have elapsed and prints tokens per wall second and per CPU second (this process), as JSON.
// bench/tokenizer/run drives it next to bench/tokenizer/hf_encode.js on the same documents.

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <time.h>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: {} TOKENIZER_JSON DOCS_JSON [MIN_SECONDS]\n", argv[0]);
    return 2;
  }
  const double min_seconds = argc > 3 ? std::atof(argv[3]) : 3.0;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto tok = llmd::tokenizer::Tokenizer::load(argv[1]);
  if (!tok) {
    fmt::print(stderr, "{}\n", tok.error().message);
    return 2;
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::ifstream f(argv[2]);
  std::stringstream ss;
  ss << f.rdbuf();
  std::vector<std::string> docs;
  const boost::json::value parsed = boost::json::parse(ss.str());
  for (const auto& d : parsed.as_array()) docs.emplace_back(d.as_string());

  llmd::tokenizer::EncodeScratch scratch;
  std::vector<uint32_t> ids;
  const llmd::tokenizer::EncodeOptions opts{true};
  auto pass = [&]() -> uint64_t {
    uint64_t n = 0;
    for (const auto& d : docs) {
      if (!(*tok)->encode(d, opts, scratch, ids)) std::abort();
      n += ids.size();
    }
    return n;
  };
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  pass();  // warm-up: caches and page faults
  uint64_t tokens = 0;
  const auto start = Clock::now();
  const double cpu_start = cpu_now();
  double elapsed = 0;
  do {
    tokens += pass();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  const double cpu = cpu_now() - cpu_start;
  fmt::print(
      "{{\"tokens_per_s\": {:.0f}, \"cpu_tokens_per_s\": {:.0f}, \"tokens\": {}, \"seconds\": {:.3f}, "
      "\"cpu_seconds\": {:.3f}, \"load_s\": {:.3f}}}\n",
      static_cast<double>(tokens) / elapsed, static_cast<double>(tokens) / cpu, tokens, elapsed, cpu, load_s);
  return 0;
}

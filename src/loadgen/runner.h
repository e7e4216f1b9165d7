#pragma once
// The load runner: drives a LoadSpec against OpenAI-compatible targets from one io_context (one
// thread), measuring every request. Requests go out through llmd::http::Client (keep-alive pools),
// streamed responses are parsed incrementally (SseParser, then ChunkParser) and timestamped from
// the injected Clock. Open-loop stages send on schedule no matter how slow the target is, up to a
// bound on requests in flight (hits are counted and reported as `dropped`).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "http/client.h"
#include "loadgen/console.h"
#include "loadgen/load.h"
#include "loadgen/metrics.h"
#include "loadgen/openai.h"
#include "loadgen/report.h"
#include "loadgen/workload.h"

namespace llmd::loadgen {

// One base URL: http://host:port[/prefix]. Requests go to <prefix>/v1/completions and so on.
struct Target {
  std::string host;
  uint16_t port = 80;
  std::string base_path;  // without a trailing slash; may be empty
  std::string url() const;
};

// Accepts http:// URLs only (the generator does not speak TLS). Errors name `path`.
Result<Target> parse_target(std::string_view url, std::string_view path);

struct RunnerOptions {
  std::vector<Target> targets;  // requests rotate over them
  RequestOptions request;
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::chrono::milliseconds request_timeout{300'000};        // to first byte, and between body bytes
  std::chrono::milliseconds connect_timeout{5'000};
  size_t max_inflight = 10'000;
  SloSpec slo;
  uint64_t seed = 42;  // Poisson arrivals
  std::chrono::milliseconds progress_interval{1'000};
};

// Receives progress while a run is going. Called on the runner's thread.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void on_progress(const ProgressSnapshot& snapshot) = 0;
  virtual void on_stage_done(const StageResult& stage) = 0;
};

struct RunOutput {
  RunResult result;
  std::vector<std::deque<RequestRecord>> records;  // per stage, in send order
  Nanos origin{0};                                 // monotonic start of the run
};

class Runner {
 public:
  // `workload` must outlive the runner. Bodies are rendered once here.
  Runner(boost::asio::io_context& io, const Clock& clock, const Workload& workload, LoadSpec load,
         RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs every stage. Run on `io` (co_spawn); `sink` may be null.
  boost::asio::awaitable<Result<RunOutput>> run(ProgressSink* sink);
  // Stops issuing requests (in-flight ones finish); the run then ends with what it measured.
  // Safe to call from the runner's thread only (post() to it from elsewhere).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for tools: runs a whole benchmark on a fresh io_context on the calling thread.
// SIGINT/SIGTERM stop issuing requests; a second signal abandons in-flight ones.
Result<RunOutput> run_blocking(const Clock& clock, const Workload& workload, const LoadSpec& load,
                               const RunnerOptions& options, ProgressSink* sink, bool handle_signals);

}  // namespace llmd::loadgen

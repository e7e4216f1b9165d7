#pragma once
// Test support: an in-process model server with controllable behaviour, for the router's unit tests
// (the end-to-end tests use `llmd sim`). It serves
//   GET  /metrics              the text set by set_metrics() with the status set by set_metrics_status()
//   GET  /v1/models            set_models() ids as an OpenAI list (404 when none were set)
//   POST /v1/completions, /v1/chat/completions
//        a JSON answer {"server":<name>,"body_bytes":N,"headers":{...},"usage":{...}}, or with
//        "stream":true an SSE stream of `x-fake-chunks` (default 3) events and [DONE]
//   anything else              {"server":<name>,"path":<target>}
// Request headers steer it: x-fake-status (answer with that status), x-fake-delay-ms (wait first).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace llmd::http::testing {

class FakeUpstream {
 public:
  explicit FakeUpstream(std::string name, unsigned threads = 1);
  ~FakeUpstream();
  Result<void> start();
  void stop();
  uint16_t port() const;
  const std::string& name() const;

  void set_metrics(std::string text);
  void set_metrics_status(int status);
  void set_models(std::vector<std::string> ids);

  // Inference requests answered.
  uint64_t requests() const;
  uint64_t metrics_requests() const;
  // Connections accepted so far.
  uint64_t connections() const;
  // The request target of the last GET /metrics (query included; the page ignores the query).
  std::string last_metrics_target() const;
  // Requests whose handler ended because the client went away.
  uint64_t cancelled() const;
  // The headers of the last inference request, as "name: value\n" lines (names lower-cased, sorted).
  std::string last_headers() const;
  // The body bytes of the last inference request.
  std::string last_body() const;

  struct Impl;  // public so that the .cc's handlers can take it

 private:
  std::unique_ptr<Impl> impl_;
};

// A vLLM-style /metrics page with these values (plus unrelated series the scraper must skip).
std::string vllm_metrics_page(int waiting, int running, double kv_usage, int block_size = 16,
                              int num_gpu_blocks = 1000);

}  // namespace llmd::http::testing

#pragma once
// Test support: an in-process OpenAI-compatible model server with controllable, exactly known
// behaviour, for the router's, the data layer's and the load generator's tests and the integration
// tests that need a fake upstream (the end-to-end tests use `llmd sim`). It serves
//   GET  /metrics              the text set by set_metrics() with the status set by set_metrics_status()
//   GET  /v1/models            set_models() ids as an OpenAI list (404 when none were set)
//   POST /v1/completions, /v1/chat/completions   (see "Inference" below)
//   anything else              {"server":<name>,"path":<target>}
//
// Inference. The body must be a JSON object (else 400 with an OpenAI error body). The answer has N
// tokens, each the text " tok": N is the x-fake-chunks header if present, else the body's
// `max_tokens` (or `max_completion_tokens`), else 16. Usage is
//   {"prompt_tokens": <body bytes / 4>, "completion_tokens": N, "total_tokens": ...,
//    "prompt_tokens_details": {"cached_tokens": kCachedTokens}}.
// Without "stream":true the answer is one JSON object: an OpenAI completion ("id", "object",
// "model", "choices" with `text`, or for chat `message.content`, holding the N tokens,
// finish_reason "length", "usage") that also carries this server's fields
//   "server": <name>, "body_bytes": <request body size>, "headers": {<request headers>}.
// With "stream":true it is an SSE stream: N one-token chunks (completion: choices[0].text; chat:
// choices[0].delta.content), a chunk with finish_reason "length" and no token, a usage chunk
// ("choices":[]), then [DONE]. Every chunk also carries "server": <name>.
// Request headers steer it, in this order:
//   x-fake-delay-ms: 50        waits that long first
//   x-fake-status: 429         answers with that status and an OpenAI error body
//   x-fake-chunks: 5           the token count N (overrides max_tokens)
//   x-fake-chunk-gap-ms: 20    waits that long after each token chunk
//   x-fake-mode: stream-error  (streaming, N >= 2) an OpenAI error event after the first token, then
//                              the stream ends without [DONE]
//   x-fake-mode: truncate      (streaming, N >= 2) the stream ends after the first token, no [DONE]
//   x-fake-mode: cut           (streaming, N >= 2) the connection closes after the first token, without
//                              the final chunk (the server died)

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace llmd::http::testing {

class FakeUpstream {
 public:
  // usage.prompt_tokens_details.cached_tokens in every answer.
  static constexpr uint32_t kCachedTokens = 7;

  explicit FakeUpstream(std::string name, unsigned threads = 1);
  ~FakeUpstream();
  Result<void> start();
  void stop();
  uint16_t port() const;
  const std::string& name() const;

  void set_metrics(std::string text);
  void set_metrics_status(int status);
  // Every inference request waits this long first, as x-fake-delay-ms asks (which overrides it): a
  // model server that looks idle on /metrics but hangs on inference.
  void set_inference_delay(std::chrono::milliseconds delay);
  void set_models(std::vector<std::string> ids);

  // Inference requests received (answered or refused).
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

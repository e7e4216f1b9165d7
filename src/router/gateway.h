#pragma once
// The router's data plane: an OpenAI-compatible HTTP/1.1 reverse proxy in front of the endpoints.
//   POST /v1/completions, /v1/chat/completions  scheduled (llm-d's request flow), body bytes forwarded as
//   received GET  /v1/models                             the ready endpoints' model lists, merged anything
//   else                               a uniformly random ready endpoint
// Streams pass through chunk by chunk; a failed connect is retried on another endpoint (never once a
// byte has reached the client); a client disconnect cancels the upstream exchange. Errors are OpenAI
// JSON with x-llm-d-request-dropped-reason where llm-d's EPP sets one (rejected-no-endpoints,
// rejected-saturated).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "datalayer/data_layer.h"
#include "epp/epp_metrics.h"
#include "epp/headers.h"
#include "http/client.h"
#include "http/server.h"
#include "json/json.h"
#include "sched/scheduler.h"

namespace llmd::router {

struct GatewayOptions {
  std::chrono::milliseconds connect_timeout{2'000};
  // From the request written to the response head (prefill of a long prompt can take minutes).
  std::chrono::milliseconds first_byte_timeout{600'000};
  // Longest gap between response bytes.
  std::chrono::milliseconds idle_timeout{600'000};
  size_t max_response_bytes = 64 * 1024 * 1024;  // non-streamed responses are read whole
  size_t max_idle_per_upstream = 512;
  // Endpoints tried when connects fail (the first included).
  int max_attempts = 3;
  uint64_t seed = 0x6c6c6d64;
};

struct GatewayStats {
  uint64_t connect_retries = 0;
  uint64_t upstream_failures = 0;
  uint64_t client_disconnects = 0;
  // Answers whose upstream failed after the client had bytes of them, by cause (an SSE stream then
  // ends with an error event; any other body is cut).
  uint64_t stream_upstream_errors = 0;
  uint64_t stream_upstream_timeouts = 0;
  // Per-request states allocated because the worker had none spare (it keeps up to 256 for reuse).
  uint64_t request_states = 0;
};

class Gateway {
 public:
  Gateway(const sched::Scheduler& scheduler, const sched::EndpointStore& store,
          const datalayer::DataLayer& data, epp::EppMetrics& metrics, const Clock& clock,
          GatewayOptions options = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Adds the gateway's routes (and fallback) to `router`.
  void add_routes(http::Router& router);
  // Creates the per-worker state (upstream client, JSON parser, Rng) on the server's loops. Call after
  // constructing the server and before start().
  void bind(http::Server& server);
  // Drops the per-worker state; call after the server's workers stopped, before it is destroyed.
  void unbind();

  GatewayStats stats() const;

  // Implementation details, named here so the .cc's helpers can use them.
  struct Worker;
  struct Exchange;
  struct ForwardContext;
  struct RequestState;
  struct StatePool;
  class StateLease;
  enum class Forwarded { kDone, kConnectFailed };

 private:
  Worker& worker(const http::Responder& res);
  void strip_and_take_request_id(Worker& w, http::Request& req, std::string& id);
  // Sends `req` to s.ctx.endpoint and relays the answer. Every outcome but a connect failure (which
  // the caller may retry elsewhere, its error in s.connect_error) is fully handled: relayed, turned
  // into 502/504, or recorded as a client disconnect.
  http::Awaitable<Forwarded> forward(Worker& w, http::Request& req, http::Responder& res, RequestState& s);
  http::Awaitable<void> end_failed_stream(Worker& w, http::Responder& res, RequestState& s,
                                          const Error& cause);
  // The streamed half of forward(): relays the upstream's answer chunk by chunk.
  http::Awaitable<Result<void>> relay_stream(Worker& w, http::Request& req, http::Responder& res,
                                             RequestState& s, int& status, bool& client_gone,
                                             sched::ResponseCompletion& completion);
  http::Awaitable<void> handle_inference(http::Request& req, http::Responder& res, vllm::ApiKind kind);
  // The parts of an inference request after its synchronous checks.
  http::Awaitable<void> run_inference(Worker& w, http::Request& req, http::Responder& res, StateLease lease);
  http::Awaitable<void> reply_error(http::Responder& res, StateLease lease);
  // Schedules attempt `attempt` and sets its PreRequest headers on `req`; false (with s.error_* set)
  // when the request is to be answered with an error instead.
  bool schedule_attempt(Worker& w, http::Request& req, RequestState& s, int attempt);
  // After a failed connect: true to try another endpoint, false (with s.error_* set) to give up.
  bool after_connect_failure(Worker& w, RequestState& s, int attempt);
  http::Awaitable<void> handle_models(http::Request& req, http::Responder& res);
  http::Awaitable<void> handle_passthrough(http::Request& req, http::Responder& res);

  const sched::Scheduler& scheduler_;
  const sched::EndpointStore& store_;
  const datalayer::DataLayer& data_;
  epp::EppMetrics& metrics_;
  const Clock& clock_;
  const GatewayOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace llmd::router

#pragma once
// One Envoy ext_proc stream, which is one HTTP request: the endpoint picker's side of the protocol
// (GIE's endpoint picker protocol over envoy.service.ext_proc.v3), independent of gRPC so that
// tests and the fuzz target drive it message by message.
//
// Request path: headers, then the body (FULL_DUPLEX_STREAMED, as llm-d's charts configure, or
// BUFFERED / STREAMED as other gateways default to; Envoy names the mode in protocol_config). At the
// body's end the request is parsed with the router's parser and scheduled; the answer is the header
// mutation (x-gateway-destination-endpoint with its fallbacks, Content-Length, the plugins'
// headers), clear_route_cache, the envoy.lb dynamic metadata, and in FULL_DUPLEX_STREAMED the body
// re-emitted in 62,000-byte chunks. Errors are ImmediateResponses with llm-d's status, body text and
// x-llm-d-request-dropped-reason.
// Response path: headers and body pass through as the mode requires, and feed the scheduler's
// response hooks (TTFT, streaming, usage at the end).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/random.h"
#include "datalayer/data_layer.h"
#include "envoy/service/ext_proc/v3/external_processor.pb.h"
#include "epp/epp_metrics.h"
#include "epp/request_fields.h"
#include "http/sse.h"
#include "json/json.h"
#include "sched/scheduler.h"

namespace llmd::extproc {

namespace pb = envoy::service::ext_proc::v3;

// Envoy's per-chunk limit is 64 KiB; llm-d re-emits bodies in chunks of this size.
inline constexpr size_t kBodyChunkBytes = 62'000;

struct ProcessorOptions {
  // Ignore envoy.lb.subset_hint (llm-d's --disable-endpoint-subset-filter).
  bool disable_subset_filter = false;
  // Add every candidate's total score of the primary profile to the envoy.lb metadata
  // (llm-d's --emit-endpoint-scores).
  bool emit_endpoint_scores = false;
  // Request bodies are buffered for parsing up to this size; larger ones get a 413.
  size_t max_body_bytes = json::ParseLimits{}.max_bytes;
};

// What every stream shares. All of it is safe to use from several threads at once.
struct ProcessorContext {
  const sched::Scheduler& scheduler;
  const sched::EndpointStore& store;
  const datalayer::DataLayer& data;
  epp::EppMetrics& metrics;
  const Clock& clock;
  ProcessorOptions options;
};

class Processor {
 public:
  // `metrics_worker`: the EppMetrics worker slot of the calling thread (see EppMetrics::series).
  Processor(const ProcessorContext& ctx, uint64_t seed, unsigned metrics_worker);
  // Reports the response hooks' completion if the stream ends before the response does.
  ~Processor();
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  // Handles one message from Envoy and appends the messages to send back, in order. An error means
  // the stream is broken (a message out of order, or one with no request set): end it with
  // INVALID_ARGUMENT and that message.
  // `in` may be left without its request body: the bytes move into the processor rather than being
  // copied (the gRPC server reads each message into the same object).
  Result<void> handle(pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out);
  Result<void> handle(const pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out) {
    pb::ProcessingRequest copy = in;
    return handle(copy, out);
  }

  // An ImmediateResponse was sent: Envoy sends nothing more on this stream.
  bool finished() const { return phase_ == Phase::kFinished; }
  // The endpoints chosen for the request ("ip:port", then fallbacks), empty before the decision.
  const std::string& destination() const { return destination_; }
  // 1 once the request was scheduled.
  uint64_t decisions() const { return decisions_; }

 private:
  enum class Phase {
    kRequestHeaders,  // nothing received yet
    kRequestBody,     // headers received, body still arriving
    kAwaitResponse,   // decided; waiting for the response headers (or request trailers)
    kResponseBody,    // response headers received
    kResponseDone,    // response complete; only trailers may follow
    kFinished,        // immediate response sent
  };

  Result<void> on_request_headers(const pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out);
  Result<void> on_request_body(pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out);
  Result<void> on_request_trailers(std::vector<pb::ProcessingResponse>& out);
  Result<void> on_response_headers(const pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out);
  Result<void> on_response_body(const pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out);
  Result<void> on_response_trailers(std::vector<pb::ProcessingResponse>& out);

  // Which response carries the decision: the request headers' (FULL_DUPLEX_STREAMED, or a request
  // without a body), the last request body message's (BUFFERED, STREAMED), or none is left.
  enum class Answer { kHeaders, kBody, kNowhere };
  // Parses and schedules the buffered request and appends the answer; or an ImmediateResponse.
  void decide(std::vector<pb::ProcessingResponse>& out, Answer where);
  void reject(std::vector<pb::ProcessingResponse>& out, int status, std::string_view message,
              std::string_view reason, epp::RequestError error);
  // The endpoints the data plane allows (envoy.lb.subset_hint); nullopt when it sent no hint.
  std::optional<std::vector<std::string>> subset_hint(const pb::ProcessingRequest& in) const;
  // Runs the completion hooks once.
  void complete();

  const ProcessorContext& ctx_;
  Rng rng_;
  unsigned metrics_worker_;
  Phase phase_ = Phase::kRequestHeaders;
  pb::BodySendMode request_mode_ = pb::FULL_DUPLEX_STREAMED;
  pb::BodySendMode response_mode_ = pb::FULL_DUPLEX_STREAMED;
  std::string path_;
  std::string body_;
  bool body_oversized_ = false;
  bool body_seen_ = false;           // a request_body message arrived
  bool headers_answered_ = false;    // BUFFERED / STREAMED: the headers got their CONTINUE
  bool last_body_answered_ = false;  // STREAMED: the latest body chunk got its CONTINUE
  bool generated_id_ = false;        // the request had no usable x-request-id
  std::optional<std::vector<std::string>> subset_;
  sched::LLMRequest request_;
  epp::RequestFields fields_;
  std::optional<sched::SchedulingResult> result_;
  std::string destination_;
  epp::RequestSeries* series_ = nullptr;
  Nanos start_{0};
  bool first_response_chunk_ = true;
  bool response_sse_ = false;
  http::SseParser sse_;
  static constexpr size_t kUsageTailBytes = 1024;
  std::string tail_;  // the end of a JSON answer, where its usage is
  uint64_t decisions_ = 0;
  sched::ResponseCompletion completion_{sched::TerminationCause::kError, -1, -1};
  bool completed_ = false;
};

}  // namespace llmd::extproc

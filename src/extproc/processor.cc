#include "extproc/processor.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "epp/headers.h"
#include "epp/rejection.h"
#include "epp/usage.h"
#include "http/request_id.h"

namespace llmd::extproc {

namespace {

namespace core = envoy::config::core::v3;

constexpr std::string_view kDestinationHeader = "x-gateway-destination-endpoint";
constexpr std::string_view kWentIntoRespHeaders = "x-went-into-resp-headers";
constexpr std::string_view kLbNamespace = "envoy.lb";
constexpr std::string_view kSubsetNamespace = "envoy.lb.subset_hint";
constexpr std::string_view kSubsetKey = "x-gateway-destination-endpoint-subset";
constexpr std::string_view kScoresKey = "x-gateway-destination-endpoint-scores";

// Envoy puts values in raw_value; older senders use value.
std::string_view header_value(const core::HeaderValue& h) {
  return h.raw_value().empty() ? std::string_view(h.value()) : std::string_view(h.raw_value());
}

// Set headers are written to raw_value, as Envoy expects; unset `append` means overwrite.
void set_header(pb::HeaderMutation& m, std::string_view key, std::string_view value) {
  core::HeaderValue* h = m.add_set_headers()->mutable_header();
  h->set_key(std::string(key));
  h->set_raw_value(std::string(value));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The request path without its query.
std::string_view path_only(std::string_view path) { return path.substr(0, path.find('?')); }

// The host of "ip:port", "[v6]:port" or a bare ip.
std::string_view host_of(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    const size_t close = hp.find(']');
    return close == std::string_view::npos ? hp : hp.substr(1, close - 1);
  }
  const size_t colon = hp.find(':');
  if (colon != std::string_view::npos && hp.find(':', colon + 1) == std::string_view::npos)
    return hp.substr(0, colon);
  return hp;  // a bare IPv6 address
}

// One request parser per thread, reused: streams come and go, its buffers stay.
json::Parser& thread_parser() {
  thread_local json::Parser parser;
  return parser;
}

}  // namespace

Processor::Processor(const ProcessorContext& ctx, uint64_t seed, unsigned metrics_worker)
    : ctx_(ctx), rng_(seed), metrics_worker_(metrics_worker) {}

Processor::~Processor() {
  if (result_ && !completed_) {
    completion_.cause = sched::TerminationCause::kClientDisconnect;
    complete();
  }
}

Result<void> Processor::handle(pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out) {
  if (phase_ == Phase::kFinished) {
    return make_error(ErrorCode::kInvalidArgument, "message after an immediate response");
  }
  if (in.has_protocol_config()) {
    const auto& pc = in.protocol_config();
    request_mode_ = pc.request_body_mode();
    response_mode_ = pc.response_body_mode();
  }
  switch (in.request_case()) {
    case pb::ProcessingRequest::kRequestHeaders:
      return on_request_headers(in, out);
    case pb::ProcessingRequest::kRequestBody:
      return on_request_body(in, out);
    case pb::ProcessingRequest::kRequestTrailers:
      return on_request_trailers(out);
    case pb::ProcessingRequest::kResponseHeaders:
      return on_response_headers(in, out);
    case pb::ProcessingRequest::kResponseBody:
      return on_response_body(in, out);
    case pb::ProcessingRequest::kResponseTrailers:
      return on_response_trailers(out);
    case pb::ProcessingRequest::REQUEST_NOT_SET:
      break;
  }
  return make_error(ErrorCode::kInvalidArgument, "ProcessingRequest carries no request");
}

Result<void> Processor::on_request_headers(const pb::ProcessingRequest& in,
                                           std::vector<pb::ProcessingResponse>& out) {
  if (phase_ != Phase::kRequestHeaders) {
    return make_error(ErrorCode::kInvalidArgument, "request_headers received twice");
  }
  start_ = ctx_.clock.now();
  bool have_id = false;
  for (const core::HeaderValue& h : in.request_headers().headers().headers()) {
    const std::string_view value = header_value(h);
    if (h.key() == ":path") path_ = value;
    if (!h.key().empty() && h.key().front() == ':') continue;
    if (h.key() == epp::kRequestIdHeader) {
      // One id only, and only a usable one (as the router keeps it).
      if (have_id || !http::usable_request_id(value)) continue;
      have_id = true;
      request_.request_id = value;
    }
    request_.headers.emplace_back(h.key(), std::string(value));
  }
  if (!have_id) {
    http::RequestIdGenerator ids(rng_);
    ids.next(request_.request_id);
    request_.headers.emplace_back(std::string(epp::kRequestIdHeader), request_.request_id);
    generated_id_ = true;
  }
  if (!ctx_.options.disable_subset_filter) subset_ = subset_hint(in);
  phase_ = Phase::kRequestBody;
  if (in.request_headers().end_of_stream()) {
    // No body to wait for: decide now, in the headers response.
    decide(out, Answer::kHeaders);
    return {};
  }
  // BUFFERED and STREAMED hold the body until the headers are answered; the decision then travels
  // in the body response. FULL_DUPLEX_STREAMED answers the headers after the body.
  if (request_mode_ != pb::FULL_DUPLEX_STREAMED) {
    out.emplace_back().mutable_request_headers();
    headers_answered_ = true;
  }
  return {};
}

Result<void> Processor::on_request_body(pb::ProcessingRequest& in, std::vector<pb::ProcessingResponse>& out) {
  if (phase_ != Phase::kRequestBody) {
    return make_error(ErrorCode::kInvalidArgument, "request_body outside the request body phase");
  }
  pb::HttpBody& b = *in.mutable_request_body();
  body_seen_ = true;
  if (!body_oversized_) {
    if (body_.size() + b.body().size() > ctx_.options.max_body_bytes) {
      body_oversized_ = true;
      body_.clear();
    } else if (body_.empty()) {
      body_.swap(*b.mutable_body());  // the usual single-message body: taken, not copied
    } else {
      body_.append(b.body());
    }
  }
  if (!b.end_of_stream()) {
    // STREAMED answers every chunk; the others wait for the end.
    if (request_mode_ == pb::STREAMED) out.emplace_back().mutable_request_body();
    last_body_answered_ = request_mode_ == pb::STREAMED;
    return {};
  }
  decide(out, headers_answered_ ? Answer::kBody : Answer::kHeaders);
  return {};
}

Result<void> Processor::on_request_trailers(std::vector<pb::ProcessingResponse>& out) {
  if (phase_ == Phase::kRequestBody) {
    // Trailers end a body that had no end_of_stream.
    decide(out, !headers_answered_                     ? Answer::kHeaders
                : (last_body_answered_ || !body_seen_) ? Answer::kNowhere
                                                       : Answer::kBody);
  }
  if (phase_ == Phase::kFinished) return {};
  out.emplace_back().mutable_request_trailers();
  return {};
}

std::optional<std::vector<std::string>> Processor::subset_hint(const pb::ProcessingRequest& in) const {
  if (!in.has_metadata_context()) return std::nullopt;
  const auto& fm = in.metadata_context().filter_metadata();
  auto ns = fm.find(std::string(kSubsetNamespace));
  if (ns == fm.end()) return std::nullopt;
  auto key = ns->second.fields().find(std::string(kSubsetKey));
  if (key == ns->second.fields().end()) return std::nullopt;
  // GIE's protocol sends a list of "ip:port"; a comma-separated string is accepted as well. llm-d
  // matches on the IP alone, so every port of a listed host is eligible.
  std::vector<std::string> hosts;
  auto add = [&hosts](std::string_view item) {
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) hosts.emplace_back(host_of(item));
  };
  const google::protobuf::Value& v = key->second;
  if (v.has_list_value()) {
    for (const auto& e : v.list_value().values())
      if (e.has_string_value()) add(e.string_value());
  } else if (v.has_string_value()) {
    std::string_view rest = v.string_value();
    for (;;) {
      const size_t comma = rest.find(',');
      add(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::vector<std::string> eligible;
  auto snap = ctx_.store.snapshot();
  for (const auto& e : snap->endpoints) {
    if (std::find(hosts.begin(), hosts.end(), e->address) != hosts.end()) eligible.push_back(e->host_port);
  }
  return eligible;
}

void Processor::reject(std::vector<pb::ProcessingResponse>& out, int status, std::string_view message,
                       std::string_view reason, epp::RequestError error) {
  if (series_ != nullptr) ctx_.metrics.count_error(*series_, error);
  pb::ImmediateResponse* ir = out.emplace_back().mutable_immediate_response();
  ir->mutable_status()->set_code(static_cast<envoy::type::v3::StatusCode>(status));
  // llm-d's body text: "inference error: <Code> - <message>", Code as in its error_code label.
  ir->set_body(fmt::format("inference error: {} - {}", epp::to_string(error), message));
  if (!reason.empty()) set_header(*ir->mutable_headers(), epp::kDroppedReasonHeader, reason);
  set_header(*ir->mutable_headers(), epp::kRequestIdHeader, request_.request_id);
  phase_ = Phase::kFinished;
}

void Processor::decide(std::vector<pb::ProcessingResponse>& out, Answer where) {
  const std::string_view path = path_only(path_);
  if (ends_with(path, "/chat/completions")) {
    request_.kind = vllm::ApiKind::kChatCompletions;
  } else if (ends_with(path, "/completions")) {
    request_.kind = vllm::ApiKind::kCompletions;
  } else {
    request_.kind = vllm::ApiKind::kOther;
  }
  if (body_oversized_) {
    series_ = &ctx_.metrics.series(metrics_worker_, "", "");
    series_->total->inc();
    reject(out, 413, fmt::format("request body exceeds {} bytes", ctx_.options.max_body_bytes), {},
           epp::RequestError::kBadRequest);
    return;
  }
  if (request_.kind == vllm::ApiKind::kOther) {
    // Any other body (embeddings, responses, ...): the scorers hash it whole.
    request_.body_json = body_;
  } else if (auto r = epp::parse_request_fields(body_, thread_parser(), request_, fields_); !r) {
    series_ = &ctx_.metrics.series(metrics_worker_, request_.model, request_.model);
    series_->total->inc();
    reject(out, r.error().code == ErrorCode::kResourceExhausted ? 413 : 400, r.error().message, {},
           epp::RequestError::kBadRequest);
    return;
  }
  series_ = &ctx_.metrics.series(metrics_worker_, request_.model, request_.effective_model());
  series_->total->inc();

  std::optional<std::vector<std::string>> allowed = subset_;
  if (!request_.model.empty()) {
    auto models = ctx_.data.models();
    if (const std::vector<std::string>* restrict = models->restrict_to(request_.effective_model())) {
      if (restrict->empty()) {
        reject(out, 404, fmt::format("The model `{}` does not exist.", request_.effective_model()), {},
               epp::RequestError::kNotFound);
        return;
      }
      if (allowed) {
        std::erase_if(*allowed, [restrict](const std::string& hp) {
          return std::find(restrict->begin(), restrict->end(), hp) == restrict->end();
        });
      } else {
        allowed.emplace(restrict->begin(), restrict->end());
      }
    }
  }
  if (allowed && allowed->empty()) {
    reject(out, 503, "no endpoints available in the requested subset", "rejected-no-endpoints",
           epp::RequestError::kServiceUnavailable);
    return;
  }
  request_.keep_scores = ctx_.options.emit_endpoint_scores;
  Result<sched::SchedulingResult> sr =
      allowed ? ctx_.scheduler.schedule(request_, rng_, *allowed) : ctx_.scheduler.schedule(request_, rng_);
  if (!sr) {
    const epp::Rejection rej = epp::rejection_for(sr.error().code);
    reject(out, rej.status, sr.error().message, rej.reason, rej.error);
    return;
  }
  const sched::ProfileRun* primary = sr->primary();
  if (primary == nullptr || primary->targets.empty()) {
    reject(out, 500, "scheduling produced no target endpoint", {}, epp::RequestError::kInternal);
    return;
  }
  if (where == Answer::kNowhere) {
    // The body's last message was answered before trailers ended it: no response may carry the
    // header mutation any more (only FULL_DUPLEX_STREAMED holds the headers until the end).
    reject(out, 500,
           "request trailers ended the body after it was answered; use FULL_DUPLEX_STREAMED or BUFFERED", {},
           epp::RequestError::kInternal);
    return;
  }
  result_ = std::move(*sr);
  // The primary pick first, then the profile's other picks as fallbacks for the proxy's retries.
  for (const auto& t : primary->targets) {
    if (!destination_.empty()) destination_.push_back(',');
    destination_ += t.endpoint->host_port;
  }

  pb::ProcessingResponse& decision = out.emplace_back();
  pb::CommonResponse* common = where == Answer::kHeaders
                                   ? decision.mutable_request_headers()->mutable_response()
                                   : decision.mutable_request_body()->mutable_response();
  pb::HeaderMutation* m = common->mutable_header_mutation();
  set_header(*m, kDestinationHeader, destination_);
  const bool reemit = where == Answer::kHeaders && body_seen_;
  if (reemit && !body_.empty()) set_header(*m, "content-length", std::to_string(body_.size()));
  for (const auto& [name, value] : result_->request_headers) set_header(*m, name, value);
  if (generated_id_) set_header(*m, epp::kRequestIdHeader, request_.request_id);
  common->set_clear_route_cache(true);
  google::protobuf::Struct lb;
  (*lb.mutable_fields())[std::string(kDestinationHeader)].set_string_value(destination_);
  if (ctx_.options.emit_endpoint_scores) {
    auto* scores = (*lb.mutable_fields())[std::string(kScoresKey)].mutable_struct_value()->mutable_fields();
    for (const auto& c : result_->primary()->scored)
      (*scores)[c.candidate.endpoint->host_port].set_number_value(c.score);
  }
  (*decision.mutable_dynamic_metadata()->mutable_fields())[std::string(kLbNamespace)]
      .mutable_struct_value()
      ->Swap(&lb);
  if (reemit) {
    // The body as received, in chunks under Envoy's 64 KiB limit; an empty body is one empty chunk.
    // A body that fits one chunk moves into it: nothing reads body_ after the decision.
    const size_t size = body_.size();
    size_t at = 0;
    do {
      const size_t n = std::min(kBodyChunkBytes, size - at);
      pb::StreamedBodyResponse* sb = out.emplace_back()
                                         .mutable_request_body()
                                         ->mutable_response()
                                         ->mutable_body_mutation()
                                         ->mutable_streamed_response();
      if (n == size) {
        sb->set_body(std::move(body_));
      } else {
        sb->set_body(body_.substr(at, n));
      }
      at += n;
      sb->set_end_of_stream(at == size);
    } while (at < size);
    body_.clear();
  }
  ++decisions_;
  phase_ = Phase::kAwaitResponse;
}

void Processor::complete() {
  if (completed_ || !result_) return;
  completed_ = true;
  if (series_ != nullptr && completion_.cause == sched::TerminationCause::kNatural) {
    series_->duration->observe(to_seconds(ctx_.clock.now() - start_));
  }
  ctx_.scheduler.response_complete(request_, *result_, completion_);
}

Result<void> Processor::on_response_headers(const pb::ProcessingRequest& in,
                                            std::vector<pb::ProcessingResponse>& out) {
  if (phase_ != Phase::kAwaitResponse) {
    return make_error(ErrorCode::kInvalidArgument, "response_headers before the request was decided");
  }
  const auto& headers = in.response_headers().headers().headers();
  int status = 0;
  for (const core::HeaderValue& h : headers) {
    if (h.key() == "content-type" && header_value(h).find("text/event-stream") != std::string_view::npos)
      response_sse_ = true;
    if (h.key() == ":status") {
      const std::string_view v = header_value(h);
      std::from_chars(v.data(), v.data() + v.size(), status);
    }
  }
  // Passive outlier detection sees the answer of the endpoint that served it: the data plane names
  // it in envoy.lb (it may be a fallback), else it is the primary pick.
  std::string_view served = std::string_view(destination_).substr(0, destination_.find(','));
  if (in.has_metadata_context()) {
    const auto& fm = in.metadata_context().filter_metadata();
    if (auto lb = fm.find(std::string(kLbNamespace)); lb != fm.end()) {
      if (auto f = lb->second.fields().find(std::string(epp::kServedHeader));
          f != lb->second.fields().end() && f->second.has_string_value()) {
        served = f->second.string_value();
      }
    }
  }
  if (status > 0) {
    for (const auto& t : result_->primary()->targets) {
      if (t.endpoint->host_port == served) ctx_.data.record_response(*t.endpoint, status);
    }
  }
  pb::HeaderMutation* m =
      out.emplace_back().mutable_response_headers()->mutable_response()->mutable_header_mutation();
  set_header(*m, kWentIntoRespHeaders, "true");
  sched::HeaderList added;
  ctx_.scheduler.response_received(request_, *result_, added);
  for (const auto& [name, value] : added) set_header(*m, name, value);
  phase_ = Phase::kResponseBody;
  if (in.response_headers().end_of_stream()) {
    completion_.cause = sched::TerminationCause::kNatural;
    complete();
    phase_ = Phase::kResponseDone;
  }
  return {};
}

Result<void> Processor::on_response_body(const pb::ProcessingRequest& in,
                                         std::vector<pb::ProcessingResponse>& out) {
  if (phase_ != Phase::kResponseBody) {
    return make_error(ErrorCode::kInvalidArgument, "response_body outside the response body phase");
  }
  const pb::HttpBody& b = in.response_body();
  if (first_response_chunk_ && !b.body().empty()) {
    if (series_ != nullptr) series_->ttft->observe(to_seconds(ctx_.clock.now() - start_));
  }
  if (!b.body().empty()) {
    ctx_.scheduler.response_streaming(request_, *result_,
                                      sched::ResponseChunk{first_response_chunk_, b.body().size()});
    first_response_chunk_ = false;
    if (response_sse_) {
      sse_.feed(b.body(), [this](const http::SseEvent& ev) { epp::read_usage(ev.data, completion_); });
    } else {
      // A JSON answer ends with its usage object: a bounded tail is enough to read it.
      tail_.append(b.body());
      if (tail_.size() > kUsageTailBytes) tail_.erase(0, tail_.size() - kUsageTailBytes);
    }
  }
  switch (response_mode_) {
    case pb::FULL_DUPLEX_STREAMED: {
      pb::StreamedBodyResponse* sb = out.emplace_back()
                                         .mutable_response_body()
                                         ->mutable_response()
                                         ->mutable_body_mutation()
                                         ->mutable_streamed_response();
      sb->set_body(b.body());
      sb->set_end_of_stream(b.end_of_stream());
      break;
    }
    case pb::BUFFERED:
    case pb::BUFFERED_PARTIAL:
      if (b.end_of_stream()) out.emplace_back().mutable_response_body();
      break;
    default:
      out.emplace_back().mutable_response_body();
      break;
  }
  if (b.end_of_stream()) {
    if (!response_sse_) epp::read_usage(tail_, completion_);
    completion_.cause = sched::TerminationCause::kNatural;
    complete();
    phase_ = Phase::kResponseDone;
  }
  return {};
}

Result<void> Processor::on_response_trailers(std::vector<pb::ProcessingResponse>& out) {
  if (phase_ != Phase::kResponseBody && phase_ != Phase::kResponseDone) {
    return make_error(ErrorCode::kInvalidArgument, "response_trailers before the response headers");
  }
  if (!completed_) {
    if (!response_sse_) epp::read_usage(tail_, completion_);
    completion_.cause = sched::TerminationCause::kNatural;
    complete();
  }
  phase_ = Phase::kResponseDone;
  out.emplace_back().mutable_response_trailers();
  return {};
}

}  // namespace llmd::extproc

// /v1/completions and /v1/chat/completions: admission (readiness, parsing, injected failures, the
// model), the request handed to the engine thread, its tokens relayed as they come (SSE) or
// gathered, and the final response in vLLM's shape.

#include <algorithm>
#include <cstdlib>

#include "sim/server/replica.h"
#include "sim/server/replica_internal.h"

namespace llmd::sim {

using http::Status;

namespace {

std::string random_hex(Rng& rng, int chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t v = 0;
  for (int i = 0; i < chars; ++i) {
    if (i % 16 == 0) v = rng();
    s.push_back(kHex[v & 0xf]);
    v >>= 4;
  }
  return s;
}

}  // namespace

// One completion request on the HTTP worker, from admission to its last byte.
struct Replica::Completion {
  Completion(http::Request& q, http::Responder& r, CompletionRequest body)
      : req(q), res(r), c(std::move(body)) {}

  http::Request& req;
  http::Responder& res;
  CompletionRequest c;
  std::string id;  // cmpl-… or chatcmpl-…
  int64_t created = 0;
  uint32_t prompt_len = 0;
  bool pd_prefill = false;  // the prefill leg of a P/D request: the response carries kv_transfer_params
  uint64_t sid = 0;
  std::shared_ptr<Stream> st;
  std::vector<Delivery> batch;  // deliveries being read; batch[next] is the first unread
  size_t next = 0;
  // What the response reports.
  std::string text;  // non-streamed responses only
  Usage usage;
  std::string finish_reason;
  std::vector<uint32_t> held;  // P/D prefill: the blocks held for the decode side
};

http::Awaitable<void> Replica::handle_completion(http::Request& req, http::Responder& res, ApiKind api) {
  if (clock_.now() < ready_at_) {
    co_await res.send(
        error_for(req, Status::service_unavailable, "The server is overloaded or not ready yet."));
    co_return;
  }
  auto parsed = parse_completion_request(req.body(), api);
  if (!parsed) {
    const Status st = parsed.error().code == ErrorCode::kResourceExhausted ? Status::payload_too_large
                                                                           : Status::bad_request;
    co_await res.send(error_for(req, st, parsed.error().message));
    co_return;
  }
  if (auto refused = refusal(req, *parsed)) {
    co_await res.send(std::move(*refused));
    co_return;
  }
  Completion call(req, res, std::move(*parsed));
  auto spec = make_spec(call);
  if (!spec) {
    co_await res.send(error_for(req, Status::bad_request, spec.error().message));
    co_return;
  }
  if (!co_await submit(call, std::move(*spec))) co_return;
  if (!co_await relay_tokens(call)) co_return;
  co_await send_result(call);
}

// An injected failure, or 404 for a model this replica does not serve.
std::optional<http::Response> Replica::refusal(const http::Request& req, const CompletionRequest& c) {
  if (auto failure = injected_failure(req, c.model)) return failure;
  if (!model_known(c.model))
    return error_for(req, Status::not_found, "The model `" + c.model + "` does not exist.");
  return std::nullopt;
}

// X-Return-Error: <status> fails the request with that status; otherwise --failure-rate percent of
// requests fail with one of --failure-types, drawn from the seeded generator.
std::optional<http::Response> Replica::injected_failure(const http::Request& req, std::string_view model) {
  int status = 0;
  auto hdr = req.find("X-Return-Error");
  if (hdr != req.end()) {
    status = std::atoi(std::string(hdr->value()).c_str());
    if (status < 400 || status > 599) status = 0;
  } else if (config_.failure_rate > 0 && !config_.failure_types.empty() &&
             rng_.uniform() * 100.0 < config_.failure_rate) {
    const FailureType t = config_.failure_types[rng_.below(config_.failure_types.size())];
    switch (t) {
      case FailureType::kRateLimit:
        return error_for(req, Status::too_many_requests, "Rate limit reached for " + std::string(model));
      case FailureType::kInvalidApiKey:
        return error_for(req, Status::unauthorized, "Incorrect API key provided.");
      case FailureType::kContextLength:
        return error_for(req, Status::bad_request,
                         "This model's maximum context length is " +
                             std::to_string(engine_->config().max_model_len) +
                             " tokens. However, your request exceeds it.");
      case FailureType::kServerError:
        return error_for(req, Status::service_unavailable, "The server is overloaded or not ready yet.");
      case FailureType::kInvalidRequest:
        return error_for(req, Status::bad_request, "Invalid request: injected failure.");
      case FailureType::kModelNotFound:
        return error_for(req, Status::not_found,
                         "The model `" + std::string(model) + "-nonexistent` does not exist.");
    }
  }
  if (status == 0) return std::nullopt;
  return error_for(req, static_cast<Status>(status),
                   "Injected error (X-Return-Error: " + std::to_string(status) + ")");
}

// The engine's request: the prompt's tokens, the id (X-Request-Id, else random), the sampling
// limits and the P/D role. Fills in the call's id, creation time and P/D role. Errors: the prompt
// does not tokenize.
Result<RequestSpec> Replica::make_spec(Completion& call) {
  CompletionRequest& c = call.c;
  RequestSpec spec;
  if (c.prompt_tokens) {
    spec.prompt = std::move(*c.prompt_tokens);
  } else if (auto r = codec_->encode(c.prompt_text, c.api == ApiKind::kCompletions, spec.prompt); !r) {
    return r.error();
  }
  call.prompt_len = static_cast<uint32_t>(spec.prompt.size());
  auto rid = call.req.find("X-Request-Id");
  const std::string base_id = rid != call.req.end() ? std::string(rid->value()) : random_hex(id_rng_, 32);
  call.id = (c.api == ApiKind::kChatCompletions ? "chatcmpl-" : "cmpl-") + base_id;
  spec.request_id = call.id;
  spec.max_tokens = c.max_tokens;
  spec.ignore_eos = c.ignore_eos;
  spec.cache_salt = c.cache_salt;
  if (c.model != config_.model) spec.lora = c.model;
  spec.arrival = clock_.now();
  if (c.kv_transfer_params) take_remote_prefill(*c.kv_transfer_params, spec);
  call.pd_prefill = spec.do_remote_decode;
  call.created = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now()).count();
  return spec;
}

// Hands the request to the engine thread and waits for its verdict. False when the response has
// been sent (refused) or the client left.
http::Awaitable<bool> Replica::submit(Completion& call, RequestSpec spec) {
  call.sid = open_stream(call.st);
  Task task;
  // The histogram's parameter; a value past uint32 never passes the engine's context check anyway.
  std::optional<uint32_t> max_tokens_param;
  if (call.c.max_tokens)
    max_tokens_param = static_cast<uint32_t>(std::min<uint64_t>(*call.c.max_tokens, UINT32_MAX));
  task.v = AddTask{call.sid, std::move(spec), max_tokens_param};
  if (!push_task(std::move(task))) {
    close_stream(call.sid);
    co_await call.res.send(error_for(call.req, Status::service_unavailable, kTaskQueueFull));
    co_return false;
  }
  // The first delivery says whether the engine took the request.
  if (!co_await next_deliveries(*call.st, call.res, call.batch)) {
    abort_request(call.sid);
    co_return false;
  }
  const Delivery& first = call.batch[0];
  if (first.kind == Delivery::Kind::kRejected) {
    close_stream(call.sid);
    co_await call.res.send(error_for(call.req, status_for(first.code), first.message));
    co_return false;
  }
  call.next = 1;  // kAccepted
  co_return true;
}

// Reads tokens until the request finishes, streaming each batch as one SSE delta or gathering the
// text. False when the client left (the engine is told to drop the request).
http::Awaitable<bool> Replica::relay_tokens(Completion& call) {
  const CompletionRequest& c = call.c;
  call.usage = Usage{call.prompt_len, 0, 0};
  if (c.stream && c.api == ApiKind::kChatCompletions) {
    if (!co_await call.res.write_sse(render_role_chunk(call.id, call.created, c.model))) {
      abort_request(call.sid);
      co_return false;
    }
  }
  std::string piece;
  bool finished = false;
  while (!finished) {
    if (call.next >= call.batch.size()) {
      if (!co_await next_deliveries(*call.st, call.res, call.batch)) {
        abort_request(call.sid);
        co_return false;
      }
      call.next = 0;
    }
    finished = take_tokens(call, piece);
    if (!c.stream) {
      call.text += piece;
      continue;
    }
    if (piece.empty() && !finished) continue;
    const std::string chunk =
        render_delta_chunk(c.api, call.id, call.created, c.model, piece, call.finish_reason,
                           c.continuous_usage ? &call.usage : nullptr);
    if (!co_await call.res.write_sse(chunk)) {
      if (!finished) abort_request(call.sid);
      close_stream(call.sid);
      co_return false;
    }
  }
  close_stream(call.sid);
  co_return true;
}

// Decodes the unread tokens of the current batch into `piece` (tokens that piled up while the
// client was slow go out as one delta, as vLLM merges them). True once the request finished.
bool Replica::take_tokens(Completion& call, std::string& piece) {
  piece.clear();
  for (; call.next < call.batch.size(); ++call.next) {
    const Delivery& d = call.batch[call.next];
    if (d.kind != Delivery::Kind::kToken) continue;
    if (d.has_token) codec_->append_text(std::span(&d.token, 1), piece);
    call.usage = d.usage;
    if (d.finished) {
      call.finish_reason = std::string(to_string(d.reason));
      call.held = d.held_blocks;
      ++call.next;
      return true;
    }
  }
  return false;
}

// The end of a finished request: the usage chunk and [DONE] of a stream, or the whole response.
http::Awaitable<void> Replica::send_result(Completion& call) {
  const CompletionRequest& c = call.c;
  if (c.stream) {
    if (c.include_usage &&
        !co_await call.res.write_sse(render_usage_chunk(c.api, call.id, call.created, c.model, call.usage)))
      co_return;
    if (co_await call.res.write_sse("[DONE]")) co_await call.res.finish();
    co_return;
  }
  std::optional<vllm::KvTransferParams> kv;
  if (call.pd_prefill) kv = prefill_result(call.id, call.held);
  co_await call.res.send(http::json_response(
      Status::ok,
      render_response(c.api, call.id, call.created, c.model, call.text, call.finish_reason, call.usage, kv),
      call.req.version(), call.req.keep_alive()));
}

void Replica::abort_request(uint64_t sid) {
  Task t;
  t.v = AbortTask{sid};
  push_task(std::move(t));
  close_stream(sid);
}

}  // namespace llmd::sim

#pragma once
// Reads from an OpenAI request body only what scheduling needs (model, prompt or messages, tools,
// stream, cache_salt, token limits) into a sched::LLMRequest. The body itself is forwarded as the
// original bytes; nothing here re-serializes it.

#include <string>
#include <string_view>

#include "common/error.h"
#include "json/json.h"
#include "sched/request.h"

namespace llmd::epp {

struct RequestFields {
  bool stream = false;
  // For a 400: the JSON path of the offending field (OpenAI `param`), empty when none applies.
  std::string error_param;
};

// Fills `out.model`, `out.kind`-specific content, `cache_salt`, `max_tokens` and `estimated_tokens`
// (4 bytes per token over the text) from `body`. `out.kind` must already be kCompletions or
// kChatCompletions. Errors are kInvalidArgument (400), or kResourceExhausted when the body is over the
// parser's byte limit (413); `fields.error_param` names the field.
Result<void> parse_request_fields(std::string_view body, json::Parser& parser, sched::LLMRequest& out,
                                  RequestFields& fields);

}  // namespace llmd::epp
